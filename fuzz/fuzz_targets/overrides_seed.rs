//! The overrides editor on any document it accepts: setting the seed host changes only that key
//! (the result parses again, and its typed view equals the old one apart from the seed host); a
//! refused edit leaves the text as it was; and clearing the seed host after setting it, when the
//! editor does not refuse the removal, gives back the original bytes if the key was not in the
//! file, the file ends with a line break and all its line breaks are of one kind (`\n` or
//! `\r\n`), as in the property test in core/tests/properties.rs. Outside those, the editor does
//! not promise the bytes back (the meaning is kept): a file without a final line break keeps the
//! one the edit added, and in a file with mixed line breaks the last one may change kind.
#![no_main]

use apigee_multiregion_core::overrides::OverridesDoc;
use libfuzzer_sys::fuzz_target;

const SEED: &str = "10.9.8.7";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(mut doc) = OverridesDoc::parse(text) else { return };
    let before = doc.view().expect("a document that parsed has a typed view");
    // Whether the key is written in the file (with any value, even null): the editor's own answer.
    let mut probe = OverridesDoc::parse(text).expect("parsed once, parses again");
    let key_absent = matches!(probe.clear_seed_host(), Ok(false));

    if doc.set_seed_host(SEED).is_err() {
        assert_eq!(doc.text(), text, "a refused edit leaves the document as it was");
        return;
    }
    let edited = OverridesDoc::parse(doc.text()).expect("the edited document parses");
    let mut after = edited.view().expect("the edited document has a typed view");
    assert_eq!(after.cassandra.multi_region_seed_host.as_deref(), Some(SEED), "the seed host is set");
    after.cassandra.multi_region_seed_host = before.cassandra.multi_region_seed_host.clone();
    assert_eq!(after, before, "only the seed host changed");

    let set = doc.text().to_owned();
    match doc.clear_seed_host() {
        // The editor may refuse a removal it cannot prove (an odd layout): then nothing changes.
        Err(_) => assert_eq!(doc.text(), set, "a refused removal leaves the document as it was"),
        Ok(removed) => {
            assert!(removed, "the key just set is there");
            let crlf = text.matches("\r\n").count();
            let one_kind_of_line_break =
                !text.contains('\r') || (crlf == text.matches('\n').count() && crlf == text.matches('\r').count());
            let ends_with_line_break = text.is_empty() || text.ends_with('\n');
            if key_absent && one_kind_of_line_break && ends_with_line_break {
                assert_eq!(doc.text(), text, "set then clear gives back the original bytes");
            }
        }
    }
});
