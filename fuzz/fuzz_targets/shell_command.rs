//! The shell-command normalizer: a command line (from a shell tool, a hook's Bash call, a
//! `command` argument) parsed with brush-parser and walked into normalized actions.
#![no_main]

use brig_detect::ToolContext;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(command) = std::str::from_utf8(data) else {
        return;
    };
    let roots = [std::path::PathBuf::from("/srv/project")];
    let ctx = ToolContext {
        cwd: Some(std::path::Path::new("/srv/project")),
        roots: &roots,
    };
    let args = serde_json::json!({ "command": command });
    let _ = brig_detect::normalize("bash", &args, &ctx);
});
