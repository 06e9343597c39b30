//! Bounded line reading, for JSON-lines streams from peers Brig does not trust (MCP over
//! stdio, JSONL ingest): a line longer than the limit is refused whole, and the reader moves
//! on to the next line without ever holding the oversize one in memory.

use std::io::{self, BufRead};

/// A line refused for its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLong {
    pub len: usize,
    pub limit: usize,
}

/// Reads one line (without its `\n`) into `buf`. `Ok(None)` at end of input;
/// `Ok(Some(Err(TooLong)))` for a line over `limit` bytes (the rest of it is skipped).
pub fn read_line_limited(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<Option<Result<(), TooLong>>> {
    buf.clear();
    let mut total = 0usize;
    let mut any = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        any = true;
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if total + take <= limit {
            buf.extend_from_slice(&chunk[..take]);
        }
        total += take;
        r.consume(take + usize::from(done));
        if done {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if total > limit {
        buf.clear();
        return Ok(Some(Err(TooLong { len: total, limit })));
    }
    Ok(Some(Ok(())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_refuses_long_ones_whole() {
        let mut r = io::BufReader::with_capacity(4, &b"ab\n0123456789\n\ncd"[..]);
        let mut buf = Vec::new();
        let mut got = Vec::new();
        while let Some(s) = read_line_limited(&mut r, &mut buf, 5).unwrap() {
            got.push(s.map(|()| buf.clone()));
        }
        assert_eq!(
            got,
            vec![
                Ok(b"ab".to_vec()),
                Err(TooLong { len: 10, limit: 5 }),
                Ok(vec![]),
                Ok(b"cd".to_vec())
            ]
        );
    }
}
