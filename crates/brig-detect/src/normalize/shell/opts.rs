//! Command-line option parsing for the programs the shell normalizer knows: which words are
//! options, which options take a value, which words are operands.

use super::W;

/// How a program's options look.
#[derive(Clone, Copy, Default)]
pub(super) struct Spec<'a> {
    /// Short options that take a value (`-o FILE`, `-oFILE`).
    pub short: &'a str,
    /// Long options that take a value (`--output FILE`; `--output=FILE` always works).
    pub long: &'a [&'a str],
    /// Options end at the first operand (wrappers: `sudo -u x cmd -r` keeps `-r` for cmd).
    pub stop_at_operand: bool,
}

/// Parsed options and operands.
#[derive(Default, Debug)]
pub(super) struct Parsed {
    /// (name, value): `"o"` for `-o`, `"output"` for `--output`.
    pub opts: Vec<(String, Option<W>)>,
    pub operands: Vec<W>,
    /// Words after the first operand when `stop_at_operand` (the wrapped command's argv).
    pub rest: Vec<W>,
}

impl Parsed {
    pub fn has(&self, names: &[&str]) -> bool {
        self.opts.iter().any(|(n, _)| names.contains(&n.as_str()))
    }

    /// The last value of any of the options.
    pub fn value(&self, names: &[&str]) -> Option<&W> {
        self.opts
            .iter()
            .rev()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .find_map(|(_, v)| v.as_ref())
    }

    pub fn values<'s>(&'s self, names: &'s [&'s str]) -> impl Iterator<Item = &'s W> + 's {
        self.opts
            .iter()
            .filter(move |(n, _)| names.contains(&n.as_str()))
            .filter_map(|(_, v)| v.as_ref())
    }
}

/// Parses `args` (the words after the program name).
pub(super) fn parse(args: &[W], spec: Spec<'_>) -> Parsed {
    let mut p = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let t = a.text.as_str();
        i += 1;
        if t == "--" {
            if spec.stop_at_operand {
                if let Some((first, rest)) = args[i..].split_first() {
                    p.operands.push(first.clone());
                    p.rest = rest.to_vec();
                }
            } else {
                p.operands.extend(args[i..].iter().cloned());
            }
            return p;
        }
        if let Some(long) = t.strip_prefix("--") {
            match long.split_once('=') {
                Some((name, value)) => p.opts.push((name.to_string(), Some(a.with_text(value)))),
                None if spec.long.contains(&long) => {
                    let v = args.get(i).cloned();
                    i += 1;
                    p.opts.push((long.to_string(), v));
                }
                None => p.opts.push((long.to_string(), None)),
            }
            continue;
        }
        if t.len() > 1 && t.starts_with('-') {
            let cluster = &t[1..];
            for (pos, c) in cluster.char_indices() {
                if spec.short.contains(c) {
                    let rest = &cluster[pos + c.len_utf8()..];
                    let v = if rest.is_empty() {
                        let v = args.get(i).cloned();
                        i += 1;
                        v
                    } else {
                        Some(a.with_text(rest))
                    };
                    p.opts.push((c.to_string(), v));
                    break;
                }
                p.opts.push((c.to_string(), None));
            }
            continue;
        }
        if spec.stop_at_operand {
            p.operands.push(a.clone());
            p.rest = args[i..].to_vec();
            return p;
        }
        p.operands.push(a.clone());
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(s: &str) -> Vec<W> {
        s.split_whitespace().map(W::lit).collect()
    }

    #[test]
    fn clusters_longs_and_operands() {
        let p = parse(
            &ws("-sSo out.txt --max-time 5 --data=@x -X POST https://a -- -b"),
            Spec {
                short: "oX",
                long: &["max-time"],
                ..Spec::default()
            },
        );
        assert!(p.has(&["s"]) && p.has(&["S"]));
        assert_eq!(p.value(&["o"]).unwrap().text, "out.txt");
        assert_eq!(p.value(&["max-time"]).unwrap().text, "5");
        assert_eq!(p.value(&["data"]).unwrap().text, "@x");
        assert_eq!(p.value(&["X"]).unwrap().text, "POST");
        let ops: Vec<_> = p.operands.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(ops, ["https://a", "-b"]);
    }

    #[test]
    fn attached_values_and_wrappers() {
        let p = parse(
            &ws("-ofile x"),
            Spec {
                short: "o",
                ..Spec::default()
            },
        );
        assert_eq!(p.value(&["o"]).unwrap().text, "file");
        let p = parse(
            &ws("-u bob rm -rf /x"),
            Spec {
                short: "u",
                stop_at_operand: true,
                ..Spec::default()
            },
        );
        assert_eq!(p.operands[0].text, "rm");
        let rest: Vec<_> = p.rest.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(rest, ["-rf", "/x"]);
    }
}
