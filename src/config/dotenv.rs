//! The `.env` file format: `KEY=value` lines, `#` comments, optional `export `, optional quotes.

use std::collections::HashMap;

/// Parses `.env` text into its variables; lines that are not `KEY=value` are skipped.
pub fn parse_dotenv(text: &str) -> HashMap<String, String> {
    let mut vars = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let value = match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..]
                .split_once(q)
                .map_or(&value[1..], |(inner, _)| inner),
            _ => value.split_once(" #").map_or(value, |(v, _)| v).trim_end(),
        };
        vars.insert(key.trim().to_string(), value.to_string());
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dotenv() {
        let vars =
            parse_dotenv("# c\nexport A=1\nB=\"two words\" \nC='x=y'\nD=plain # note\nnoequals\n");
        assert_eq!(vars["A"], "1");
        assert_eq!(vars["B"], "two words");
        assert_eq!(vars["C"], "x=y");
        assert_eq!(vars["D"], "plain");
        assert_eq!(vars.len(), 4);
    }

    #[test]
    fn keeps_empty_values_and_unterminated_quotes() {
        let vars = parse_dotenv("EMPTY=\nOPEN=\"no end\nLIST=[\"a\",\"b\"]\n");
        assert_eq!(vars["EMPTY"], "");
        assert_eq!(vars["OPEN"], "no end");
        assert_eq!(vars["LIST"], "[\"a\",\"b\"]");
    }
}
