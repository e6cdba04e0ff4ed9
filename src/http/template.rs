//! A small subset of Mustache for the web UI's server-rendered pages:
//! - `{{name}}` a value, always HTML-escaped (flags print as `true`/`false`);
//! - `{{#name}}…{{/name}}` shown when a flag is true or a text is non-empty, or once per item
//!   of a list (the item's names are looked up first);
//! - `{{^name}}…{{/name}}` shown when a flag is false, a text is empty or a list is empty.
//!
//! No value reaches the output unescaped. Errors (an unknown name, an unclosed section) are
//! returned, never panicked, so a broken template cannot take a request thread down.

use std::fmt;

/// Escapes text for HTML element content and quoted attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A value a template can name.
pub enum Value {
    Text(String),
    Flag(bool),
    List(Vec<Scope>),
}

impl Value {
    pub fn text(s: &str) -> Value {
        Value::Text(s.to_string())
    }
}

/// Names and their values; `render` looks a name up in the innermost scope first.
pub struct Scope(pub Vec<(&'static str, Value)>);

#[derive(Debug, PartialEq)]
pub enum TemplateError {
    /// `{{` without `}}`, or a tag that is not a plain name.
    BadTag(String),
    UnknownName(String),
    /// `{{#name}}` or `{{^name}}` without its `{{/name}}`.
    Unclosed(String),
    /// `{{/name}}` with no section open.
    StrayClose(String),
    /// `{{name}}` where `name` is a list.
    ListAsText(String),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::BadTag(t) => write!(f, "bad tag {{{{{t}}}}}"),
            TemplateError::UnknownName(n) => write!(f, "unknown name {n:?}"),
            TemplateError::Unclosed(n) => write!(f, "section {n:?} is not closed"),
            TemplateError::StrayClose(n) => write!(f, "{{{{/{n}}}}} closes no section"),
            TemplateError::ListAsText(n) => write!(f, "{n:?} is a list, not a value"),
        }
    }
}

impl std::error::Error for TemplateError {}

/// One `{{…}}` tag: its trimmed content and the text after it.
fn next_tag(text: &str) -> Result<Option<(&str, &str, &str)>, TemplateError> {
    let Some(start) = text.find("{{") else {
        return Ok(None);
    };
    let after = &text[start + 2..];
    let end = after
        .find("}}")
        .ok_or_else(|| TemplateError::BadTag(after.chars().take(20).collect()))?;
    Ok(Some((
        &text[..start],
        after[..end].trim(),
        &after[end + 2..],
    )))
}

fn name(tag: &str) -> Result<&str, TemplateError> {
    let ok = !tag.is_empty()
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(tag)
    } else {
        Err(TemplateError::BadTag(tag.to_string()))
    }
}

fn lookup<'a>(scopes: &[&'a Scope], name: &str) -> Result<&'a Value, TemplateError> {
    scopes
        .iter()
        .find_map(|scope| scope.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v))
        .ok_or_else(|| TemplateError::UnknownName(name.to_string()))
}

/// Splits `text` (just after `{{#name}}`) into the section's body and what follows `{{/name}}`.
fn split_section<'t>(text: &'t str, section: &str) -> Result<(&'t str, &'t str), TemplateError> {
    let mut depth = 0usize;
    let mut rest = text;
    while let Some((before, tag, after)) = next_tag(rest)? {
        if tag.strip_prefix(['#', '^']) == Some(section) {
            depth += 1;
        } else if tag.strip_prefix('/') == Some(section) {
            if depth == 0 {
                let tag_start = text.len() - rest.len() + before.len();
                return Ok((&text[..tag_start], after));
            }
            depth -= 1;
        }
        rest = after;
    }
    Err(TemplateError::Unclosed(section.to_string()))
}

/// `template` filled in from `scopes` (innermost first).
pub fn render(template: &str, scopes: &[&Scope]) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some((before, tag, after)) = next_tag(rest)? {
        out.push_str(before);
        rest = after;
        if let Some(section) = tag.strip_prefix(['#', '^']) {
            let section = name(section)?;
            let (body, after_section) = split_section(rest, section)?;
            rest = after_section;
            let inverted = tag.starts_with('^');
            match lookup(scopes, section)? {
                Value::Flag(on) if *on != inverted => out.push_str(&render(body, scopes)?),
                Value::Text(t) if t.is_empty() == inverted => out.push_str(&render(body, scopes)?),
                Value::List(items) if inverted && items.is_empty() => {
                    out.push_str(&render(body, scopes)?)
                }
                Value::List(items) if !inverted => {
                    for item in items {
                        let inner: Vec<&Scope> = std::iter::once(item)
                            .chain(scopes.iter().copied())
                            .collect();
                        out.push_str(&render(body, &inner)?);
                    }
                }
                _ => {}
            }
        } else if let Some(closed) = tag.strip_prefix('/') {
            return Err(TemplateError::StrayClose(closed.to_string()));
        } else {
            let var = name(tag)?;
            match lookup(scopes, var)? {
                Value::Text(t) => out.push_str(&html_escape(t)),
                Value::Flag(b) => out.push_str(if *b { "true" } else { "false" }),
                Value::List(_) => return Err(TemplateError::ListAsText(var.to_string())),
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(pairs: Vec<(&'static str, Value)>) -> Scope {
        Scope(pairs)
    }

    #[test]
    fn escapes_the_five_html_characters() {
        assert_eq!(
            html_escape(r#"<a href="x" title='y'>&amp;</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
        );
        assert_eq!(html_escape("Kamera — été 42"), "Kamera — été 42");
        assert_eq!(html_escape(""), "");
    }

    #[test]
    fn template_values_flags_and_lists() {
        let items = vec![
            scope(vec![("n", Value::text("a"))]),
            scope(vec![("n", Value::text("<b>"))]),
        ];
        let s = scope(vec![
            ("x", Value::text("1 < 2")),
            ("on", Value::Flag(true)),
            ("off", Value::Flag(false)),
            ("empty", Value::text("")),
            ("items", Value::List(items)),
            ("none", Value::List(vec![])),
        ]);
        let r = |t: &str| render(t, &[&s]);
        assert_eq!(r("x={{ x }}").unwrap(), "x=1 &lt; 2");
        assert_eq!(r("{{on}}/{{off}}").unwrap(), "true/false");
        assert_eq!(r("{{#on}}yes{{/on}}{{^on}}no{{/on}}").unwrap(), "yes");
        assert_eq!(r("{{#off}}yes{{/off}}{{^off}}no{{/off}}").unwrap(), "no");
        assert_eq!(
            r("{{#x}}[{{x}}]{{/x}}{{#empty}}E{{/empty}}").unwrap(),
            "[1 &lt; 2]"
        );
        assert_eq!(r("{{^empty}}blank{{/empty}}").unwrap(), "blank");
        // List items see their own names first, then the outer ones.
        assert_eq!(
            r("{{#items}}{{n}}{{x}};{{/items}}").unwrap(),
            "a1 &lt; 2;&lt;b&gt;1 &lt; 2;"
        );
        assert_eq!(
            r("{{^items}}none{{/items}}{{^none}}none{{/none}}").unwrap(),
            "none"
        );
        // A section nested inside one of the same name closes at the right place.
        assert_eq!(r("{{#on}}a{{^on}}b{{/on}}c{{/on}}d").unwrap(), "acd");
        assert_eq!(r("no tags at all").unwrap(), "no tags at all");
        assert_eq!(
            r("single { brace } is text").unwrap(),
            "single { brace } is text"
        );
    }

    #[test]
    fn template_errors_are_reported_not_panicked() {
        let s = scope(vec![("on", Value::Flag(true)), ("l", Value::List(vec![]))]);
        let r = |t: &str| render(t, &[&s]);
        assert_eq!(
            r("{{missing}}"),
            Err(TemplateError::UnknownName("missing".into()))
        );
        assert_eq!(
            r("{{#on}}never closed"),
            Err(TemplateError::Unclosed("on".into()))
        );
        assert_eq!(
            r("{{#on}}{{#on}}x{{/on}}"),
            Err(TemplateError::Unclosed("on".into()))
        );
        assert_eq!(r("x{{/on}}"), Err(TemplateError::StrayClose("on".into())));
        assert_eq!(r("{{l}}"), Err(TemplateError::ListAsText("l".into())));
        assert!(matches!(r("{{ on"), Err(TemplateError::BadTag(_))));
        assert!(matches!(r("{{Bad-Name}}"), Err(TemplateError::BadTag(_))));
        assert!(matches!(r("{{}}"), Err(TemplateError::BadTag(_))));
        assert!(matches!(r("{{#}}x{{/}}"), Err(TemplateError::BadTag(_))));
    }
}
