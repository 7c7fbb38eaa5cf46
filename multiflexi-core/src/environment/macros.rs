//! `{VAR}`, `{{ VAR }}` and `${VAR}` macros inside one argument.
//!
//! A macro name starts with an ASCII letter or `_` and continues with ASCII letters, digits or `_`
//! (so `{}`, `{0}` and `{"json": 1}` are not macros). Substituted values are never scanned again:
//! a value containing `{OTHER}` stays literal.

/// The result of substituting the macros of one argument.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Substituted<'a> {
    /// The argument with known macros replaced.
    pub(crate) text: String,
    /// Names of the variables that were substituted, in order of appearance.
    pub(crate) used: Vec<&'a str>,
    /// Unknown macros left as they were (their original spelling), in order of appearance.
    pub(crate) unknown: Vec<&'a str>,
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The end of the name starting at `i` (`i` itself when there is none).
fn name_end(s: &[u8], i: usize) -> usize {
    if i >= s.len() || !is_name_start(s[i]) {
        return i;
    }
    let mut j = i + 1;
    while j < s.len() && is_name_char(s[j]) {
        j += 1;
    }
    j
}

fn skip_blanks(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && (s[i] == b' ' || s[i] == b'\t') {
        i += 1;
    }
    i
}

/// A macro at byte `i` of `s`: `(end, name_start, name_end)`.
fn macro_at(s: &[u8], i: usize) -> Option<(usize, usize, usize)> {
    let rest = &s[i..];
    if rest.starts_with(b"${") {
        let n0 = i + 2;
        let n1 = name_end(s, n0);
        return (n1 > n0 && s.get(n1) == Some(&b'}')).then_some((n1 + 1, n0, n1));
    }
    if rest.starts_with(b"{{") {
        let n0 = skip_blanks(s, i + 2);
        let n1 = name_end(s, n0);
        let close = skip_blanks(s, n1);
        if n1 > n0 && s[close..].starts_with(b"}}") {
            return Some((close + 2, n0, n1));
        }
        // `{{X}` and the like: fall through to the single-brace form one byte later.
        return None;
    }
    if rest.starts_with(b"{") {
        let n0 = i + 1;
        let n1 = name_end(s, n0);
        return (n1 > n0 && s.get(n1) == Some(&b'}')).then_some((n1 + 1, n0, n1));
    }
    None
}

/// Replaces every macro whose variable `lookup` knows; leaves the others as they are.
pub(crate) fn substitute<'a, 'v>(
    arg: &'a str,
    lookup: impl Fn(&str) -> Option<&'v str>,
) -> Substituted<'a> {
    let s = arg.as_bytes();
    let mut out = Substituted {
        text: String::with_capacity(arg.len()),
        ..Substituted::default()
    };
    let mut copied = 0; // bytes of `arg` already copied to `out.text`
    let mut i = 0;
    while i < s.len() {
        if s[i] != b'{' && s[i] != b'$' {
            i += 1;
            continue;
        }
        let Some((end, n0, n1)) = macro_at(s, i) else {
            i += 1;
            continue;
        };
        // All positions are at ASCII bytes, so they are char boundaries.
        let name = &arg[n0..n1];
        match lookup(name) {
            Some(value) => {
                out.text.push_str(&arg[copied..i]);
                out.text.push_str(value);
                out.used.push(name);
            }
            None => {
                out.text.push_str(&arg[copied..end]);
                out.unknown.push(&arg[i..end]);
            }
        }
        copied = end;
        i = end;
    }
    out.text.push_str(&arg[copied..]);
    out
}

/// Rewrites `{{ NAME }}` as `{{NAME}}` so that splitting on blanks keeps the macro in one word.
pub(crate) fn tighten_double_braces(cmdparams: &str) -> std::borrow::Cow<'_, str> {
    let s = cmdparams.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i + 1 < s.len() {
        if s[i] == b'{'
            && s[i + 1] == b'{'
            && let Some((end, n0, n1)) = macro_at(s, i)
        {
            if end - i != n1 - n0 + 4 {
                let o = out.get_or_insert_with(|| String::with_capacity(cmdparams.len()));
                o.push_str(&cmdparams[copied..i]);
                o.push_str("{{");
                o.push_str(&cmdparams[n0..n1]);
                o.push_str("}}");
                copied = end;
            }
            i = end;
            continue;
        }
        i += 1;
    }
    match out {
        None => std::borrow::Cow::Borrowed(cmdparams),
        Some(mut o) => {
            o.push_str(&cmdparams[copied..]);
            std::borrow::Cow::Owned(o)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<&'static str> {
        match name {
            "NUMBER" => Some("42"),
            "UNIT" => Some("kg"),
            "EMPTY" => Some(""),
            "NESTED" => Some("{NUMBER}"),
            "ČESKY" => Some("no"),
            _ => None,
        }
    }

    fn sub(arg: &str) -> String {
        substitute(arg, env).text
    }

    #[test]
    fn spellings() {
        assert_eq!(sub("{NUMBER}"), "42");
        assert_eq!(sub("{{NUMBER}}"), "42");
        assert_eq!(sub("{{ NUMBER }}"), "42");
        assert_eq!(sub("{{\tNUMBER  }}"), "42");
        assert_eq!(sub("${NUMBER}"), "42");
        assert_eq!(sub("--n={NUMBER}"), "--n=42");
        assert_eq!(sub("x{NUMBER}y"), "x42y");
    }

    #[test]
    fn adjacent_macros() {
        assert_eq!(sub("{NUMBER}{UNIT}"), "42kg");
        assert_eq!(sub("{{NUMBER}}{{ UNIT }}${NUMBER}"), "42kg42");
        let s = substitute("{NUMBER}{UNIT}", env);
        assert_eq!(s.used, ["NUMBER", "UNIT"]);
    }

    #[test]
    fn not_macros() {
        for literal in [
            "{}",
            "{0}",
            "{ NUMBER }",
            "{\"a\": 1}",
            "$NUMBER",
            "$",
            "{",
            "}",
            "{{",
            "{NUMBER",
            "${NUMBER",
            "{ČESKY}",
            "ž{",
        ] {
            let s = substitute(literal, env);
            assert_eq!(s.text, literal);
            assert!(s.unknown.is_empty() && s.used.is_empty(), "{literal}");
        }
    }

    #[test]
    fn unbalanced_braces_still_find_the_inner_macro() {
        assert_eq!(sub("{{NUMBER}"), "{42");
        assert_eq!(sub("{NUMBER}}"), "42}");
        assert_eq!(sub("{{{NUMBER}}}"), "{42}");
    }

    #[test]
    fn unknown_left_as_is() {
        let s = substitute("a{MISSING}b{{ ALSO }}c${THIRD}{NUMBER}", env);
        assert_eq!(s.text, "a{MISSING}b{{ ALSO }}c${THIRD}42");
        assert_eq!(s.unknown, ["{MISSING}", "{{ ALSO }}", "${THIRD}"]);
        assert_eq!(s.used, ["NUMBER"]);
    }

    #[test]
    fn values_are_not_rescanned() {
        assert_eq!(sub("{NESTED}"), "{NUMBER}");
        assert_eq!(sub("{EMPTY}"), "");
    }

    #[test]
    fn tightening() {
        assert_eq!(
            tighten_double_braces("--file {{ ISDOC_FILE }} -x"),
            "--file {{ISDOC_FILE}} -x"
        );
        assert_eq!(tighten_double_braces("{{A}} {B} ${C}"), "{{A}} {B} ${C}");
        assert!(matches!(
            tighten_double_braces("{{A}} {{ }}"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(tighten_double_braces("ž{{ A }}ž{{B }}"), "ž{{A}}ž{{B}}");
    }
}
