//! MCP over stdio and Streamable HTTP, as the gateway reads a peer's bytes: bounded JSON
//! lines, each classified as JSON-RPC (a `tools/call` then normalized into actions, as the
//! proxy does before deciding), and the same bytes as an upstream's server-sent events.
#![no_main]

use std::io::BufRead;

use brig_detect::ToolContext;
use brig_gateway::jsonrpc::{self, Message};
use brig_gateway::lines::read_line_limited;
use brig_gateway::{approval, sse};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    // A small buffer, so that lines straddle refills as they do on a pipe.
    let mut r = std::io::BufReader::with_capacity(64, data);
    let mut buf = Vec::new();
    let roots = [std::path::PathBuf::from("/srv/project")];
    let ctx = ToolContext {
        cwd: Some(std::path::Path::new("/srv/project")),
        roots: &roots,
    };
    while let Some(status) = read_line_limited(&mut r, &mut buf, LIMIT).expect("reading a slice") {
        match status {
            Err(too_long) => assert!(too_long.len > LIMIT),
            Ok(()) => {
                assert!(buf.len() <= LIMIT);
                let Ok(value) = serde_json::from_slice::<serde_json::Value>(&buf) else {
                    continue;
                };
                let msg = Message::classify(&value);
                let _ = msg.method();
                let _ = approval::cancelled_request(&value);
                if let Message::ToolCall {
                    id,
                    tool,
                    arguments,
                } = msg
                {
                    let _ = jsonrpc::id_key(&id);
                    let _ = brig_detect::normalize(&tool, &arguments, &ctx);
                }
            }
        }
    }
    assert!(r.fill_buf().expect("reading a slice").is_empty());

    let mut parser = sse::Parser::new(LIMIT);
    for chunk in data.chunks(97) {
        for event in parser.push(chunk) {
            assert!(event.data.len() <= LIMIT + 16 || event.len > LIMIT);
            let _ = event.encode();
        }
    }
});
