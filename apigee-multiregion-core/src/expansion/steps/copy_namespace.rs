//! `copy-namespace`: the Apigee namespace, sanitized (no uid, resourceVersion, status, ...),
//! applied in the target.

use async_trait::async_trait;

use crate::copy::copy_namespace;

use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::{Planned, Step, StepId};

const STRIP: &str = "| yq 'del(.metadata.uid, .metadata.resourceVersion, .metadata.creationTimestamp, .metadata.managedFields, .metadata.ownerReferences, .status)'";

pub(crate) struct CopyNamespace;

#[async_trait]
impl Step for CopyNamespace {
    fn id(&self) -> StepId {
        StepId::CopyNamespace
    }

    async fn is_done(&self, ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
        let ns = &ctx.plan.target.namespace;
        Ok(ctx.deps.target.export_namespace(ns).await?.map(|_| format!("namespace {ns} exists in the target")))
    }

    async fn describe(&self, ctx: &Ctx<'_>) -> Result<Option<Planned>, StepError> {
        let (s, t) = (&ctx.plan.source, &ctx.plan.target);
        Ok(Some(Planned {
            description: format!("copy namespace {} from {} to {}", t.namespace, s.context, t.context),
            commands: vec![format!(
                "kubectl --context {} get namespace {} -o yaml {STRIP} | kubectl --context {} apply -f -",
                s.context, t.namespace, t.context
            )],
        }))
    }

    async fn run(&self, ctx: &Ctx<'_>) -> Result<(), StepError> {
        ctx.ensure_locked()?;
        copy_namespace(&*ctx.deps.source, &*ctx.deps.target, &ctx.plan.target.namespace).await?;
        Ok(())
    }
}

/// The `yq` filter the dry run shows for a sanitized copy.
pub(crate) fn strip_filter() -> &'static str {
    STRIP
}
