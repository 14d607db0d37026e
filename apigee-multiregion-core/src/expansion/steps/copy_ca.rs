//! `copy-ca`: the CA secret copied in memory (never written to disk); a different CA already in
//! the target is refused unless `--force-ca`.

use async_trait::async_trait;

use crate::copy::copy_ca;

use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::copy_namespace::strip_filter;
use super::{Planned, Step, StepId};

pub(crate) struct CopyCa;

#[async_trait]
impl Step for CopyCa {
    fn id(&self) -> StepId {
        StepId::CopyCa
    }

    async fn is_done(&self, ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
        let ca = &ctx.plan.ca;
        let (s, t) = tokio::try_join!(
            ctx.deps.source.export_secret(&ca.namespace, &ca.secret),
            ctx.deps.target.export_secret(&ca.namespace, &ca.secret)
        )?;
        Ok(matches!((s, t), (Some(s), Some(t)) if s.data == t.data)
            .then(|| "the target has the source's CA".to_owned()))
    }

    async fn describe(&self, ctx: &Ctx<'_>) -> Result<Option<Planned>, StepError> {
        let (plan, s, t) = (ctx.plan, &ctx.plan.source, &ctx.plan.target);
        Ok(Some(Planned {
            description: format!(
                "copy the CA secret {}/{} (in memory; refused if a different CA is there)",
                plan.ca.namespace, plan.ca.secret
            ),
            commands: vec![format!(
                "kubectl --context {} -n {} get secret {} -o yaml {} | kubectl --context {} apply -f -",
                s.context,
                plan.ca.namespace,
                plan.ca.secret,
                strip_filter(),
                t.context
            )],
        }))
    }

    async fn run(&self, ctx: &Ctx<'_>) -> Result<(), StepError> {
        ctx.ensure_locked()?;
        let ca = &ctx.plan.ca;
        copy_ca(&*ctx.deps.source, &*ctx.deps.target, &ca.namespace, &ca.secret, ctx.options.force_ca).await?;
        Ok(())
    }
}
