//! Server-sent events, as MCP's Streamable HTTP transport uses them: parsed from the
//! upstream's byte stream with a bound on each event, and written out again.

/// One event. `data` lines are joined with `\n`, as the SSE specification says.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Event {
    pub id: Option<String>,
    pub event: Option<String>,
    pub retry: Option<String>,
    pub data: String,
    /// Bytes of data seen; more than the limit means `data` was not kept.
    pub len: usize,
}

impl Event {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 32);
        for (name, v) in [
            ("id", &self.id),
            ("event", &self.event),
            ("retry", &self.retry),
        ] {
            if let Some(v) = v {
                out.extend_from_slice(format!("{name}: {v}\n").as_bytes());
            }
        }
        if !self.data.is_empty() || self.id.is_none() {
            for line in self.data.split('\n') {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
        }
        out.push(b'\n');
        out
    }
}

/// An incremental parser. Memory stays within about `limit` bytes per event, whatever
/// the peer sends: an oversize event is reported with its length and no data.
pub struct Parser {
    limit: usize,
    line: Vec<u8>,
    /// The current line outgrew the limit; skip to its end.
    skipping: bool,
    current: Event,
    data_lines: usize,
    started: bool,
}

impl Parser {
    pub fn new(limit: usize) -> Self {
        Parser {
            limit,
            line: Vec::new(),
            skipping: false,
            current: Event::default(),
            data_lines: 0,
            started: false,
        }
    }

    /// Feeds bytes; returns the events they complete.
    pub fn push(&mut self, mut chunk: &[u8]) -> Vec<Event> {
        let mut done = Vec::new();
        while !chunk.is_empty() {
            let (part, rest, ended) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (&chunk[..i], &chunk[i + 1..], true),
                None => (chunk, &[][..], false),
            };
            chunk = rest;
            if !self.skipping {
                if self.line.len() + part.len() > self.limit + 16 {
                    self.skipping = true;
                    self.current.len += self.line.len();
                    self.line.clear();
                } else {
                    self.line.extend_from_slice(part);
                }
            }
            if self.skipping {
                self.current.len += part.len();
            }
            if ended {
                if let Some(e) = self.end_line() {
                    done.push(e);
                }
            }
        }
        done
    }

    fn end_line(&mut self) -> Option<Event> {
        if self.skipping {
            self.skipping = false;
            self.started = true;
            return None;
        }
        let mut line = std::mem::take(&mut self.line);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() {
            let e = std::mem::take(&mut self.current);
            self.data_lines = 0;
            return std::mem::replace(&mut self.started, false).then_some(e);
        }
        if line[0] == b':' {
            return None; // a comment (keep-alive)
        }
        let text = String::from_utf8_lossy(&line);
        let (name, value) = match text.split_once(':') {
            Some((n, v)) => (n, v.strip_prefix(' ').unwrap_or(v)),
            None => (&*text, ""),
        };
        self.started = true;
        match name {
            "data" => {
                let sep = usize::from(self.data_lines > 0);
                self.data_lines += 1;
                self.current.len += sep + value.len();
                if self.current.len <= self.limit {
                    if sep == 1 {
                        self.current.data.push('\n');
                    }
                    self.current.data.push_str(value);
                } else {
                    self.current.data.clear();
                }
            }
            "id" => self.current.id = Some(value.to_string()),
            "event" => self.current.event = Some(value.to_string()),
            "retry" => self.current.retry = Some(value.to_string()),
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_split_anywhere() {
        let text = b"id: 1\nevent: message\ndata: {\"a\":\ndata: 1}\n\n: ping\n\nid: 2\ndata:\n\ndata: x\r\n\r\n";
        for split in 0..text.len() {
            let mut p = Parser::new(1024);
            let mut events = p.push(&text[..split]);
            events.extend(p.push(&text[split..]));
            assert_eq!(events.len(), 3, "split at {split}");
            assert_eq!(events[0].id.as_deref(), Some("1"));
            assert_eq!(events[0].data, "{\"a\":\n1}");
            assert_eq!(events[1].id.as_deref(), Some("2"));
            assert_eq!(events[1].data, "");
            assert_eq!(events[2].data, "x");
        }
    }

    #[test]
    fn oversize_events_keep_no_data_and_the_stream_goes_on() {
        let mut p = Parser::new(8);
        let big = format!("data: {}\n\ndata: ok\n\n", "x".repeat(100));
        let events = p.push(big.as_bytes());
        assert_eq!(events.len(), 2);
        assert!(events[0].len > 8 && events[0].data.is_empty());
        assert_eq!(events[1].data, "ok");
    }

    #[test]
    fn encodes_what_it_parses() {
        let e = Event {
            id: Some("7".into()),
            event: Some("message".into()),
            retry: None,
            data: "a\nb".into(),
            len: 3,
        };
        let mut p = Parser::new(64);
        let back = p.push(&e.encode());
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].data, "a\nb");
        assert_eq!(back[0].id.as_deref(), Some("7"));
    }
}
