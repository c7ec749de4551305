//! The Hub's `countDownloads` query syntax: which file requests of a library's models are
//! downloads. A [`Query`] is parsed once (a small recursive descent over the text) and then
//! matched against each request's [`PathParts`].
//!
//! ```text
//! query  = or
//! or     = and { "OR" and }
//! and    = unary { "AND" unary }
//! unary  = "(" or ")" | term
//! term   = field ":" value          field: path, path_prefix, path_filename, path_extension
//!        | "_exists_" ":" '"' field '"'
//! value  = '"' text '"'             (\" and \\ escape) the whole field equals the text
//!        | "/" regex "/"            (\/ is a slash)    the regex matches the whole field
//! ```
//!
//! Fields, as the Hub defines them for `prefix/file.extension`: `path` the whole path,
//! `path_prefix` the folder with its trailing slash (`prefix/`, empty at the root),
//! `path_filename` the file name without its extension (`file`), `path_extension` the text
//! after the file name's last dot (`extension`, empty without one; a leading dot does not
//! start an extension). `_exists_` holds when the field is not empty.

use std::fmt;

use regex::Regex;

/// The most bytes a query may have (a rule, not a document).
const MAX_QUERY: usize = 4096;
/// How deep parentheses may nest.
const MAX_DEPTH: usize = 32;

/// What a query was expected to hold at a position (1-based, in characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at character {at}: expected {expected}, found {found}")]
pub struct QueryError {
    pub at: usize,
    pub expected: String,
    pub found: String,
}

/// A file path split into the fields a query matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathParts<'a> {
    pub path: &'a str,
    pub prefix: &'a str,
    pub filename: &'a str,
    pub extension: &'a str,
}

impl<'a> PathParts<'a> {
    pub fn of(path: &'a str) -> Self {
        let (prefix, file) = match path.rfind('/') {
            Some(i) => (&path[..=i], &path[i + 1..]),
            None => ("", path),
        };
        let (filename, extension) = match file.rfind('.') {
            Some(i) if i > 0 => (&file[..i], &file[i + 1..]),
            _ => (file, ""),
        };
        PathParts {
            path,
            prefix,
            filename,
            extension,
        }
    }

    /// The `path_extension` field (empty without one).
    pub fn extension(&self) -> &'a str {
        self.extension
    }

    fn field(&self, field: Field) -> &'a str {
        match field {
            Field::Path => self.path,
            Field::Prefix => self.prefix,
            Field::Filename => self.filename,
            Field::Extension => self.extension,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Path,
    Prefix,
    Filename,
    Extension,
}

impl Field {
    const EXPECTED: &'static str = "path, path_prefix, path_filename, path_extension or _exists_";

    fn named(name: &str) -> Option<Field> {
        match name {
            "path" => Some(Field::Path),
            "path_prefix" => Some(Field::Prefix),
            "path_filename" => Some(Field::Filename),
            "path_extension" => Some(Field::Extension),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
enum Value {
    Text(String),
    /// Anchored: the whole field must match.
    Regex(Regex),
}

#[derive(Debug, Clone)]
enum Node {
    Term(Field, Value),
    Exists(Field),
    And(Vec<Node>),
    Or(Vec<Node>),
}

impl Node {
    fn matches(&self, parts: &PathParts<'_>) -> bool {
        match self {
            Node::Term(field, Value::Text(text)) => parts.field(*field) == text,
            Node::Term(field, Value::Regex(re)) => re.is_match(parts.field(*field)),
            Node::Exists(field) => !parts.field(*field).is_empty(),
            Node::And(all) => all.iter().all(|n| n.matches(parts)),
            Node::Or(any) => any.iter().any(|n| n.matches(parts)),
        }
    }
}

/// A parsed `countDownloads` query. Two queries are equal when their texts are.
#[derive(Debug, Clone)]
pub struct Query {
    text: String,
    root: Node,
}

impl PartialEq for Query {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Query {}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Query {
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        if text.len() > MAX_QUERY {
            return Err(QueryError {
                at: 1,
                expected: format!("a query of at most {MAX_QUERY} bytes"),
                found: format!("{} bytes", text.len()),
            });
        }
        let mut parser = Parser { text, pos: 0 };
        let root = parser.or(0)?;
        parser.skip_space();
        if parser.pos < text.len() {
            return Err(parser.error("AND, OR or the end of the query"));
        }
        Ok(Query {
            text: text.to_owned(),
            root,
        })
    }

    /// Whether a request for the file at `path` matches.
    pub fn matches(&self, parts: &PathParts<'_>) -> bool {
        self.root.matches(parts)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

struct Parser<'a> {
    text: &'a str,
    /// Byte offset of the next character.
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_space(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// What is at the current position, for an error.
    fn found(&self) -> String {
        let word: String = self.rest().chars().take(12).collect();
        match word.chars().next() {
            None => "the end of the query".to_owned(),
            Some(_) if word.len() < self.rest().len() => format!("{word:?}…"),
            Some(_) => format!("{word:?}"),
        }
    }

    fn error(&self, expected: &str) -> QueryError {
        self.error_at(self.pos, expected)
    }

    fn error_at(&self, pos: usize, expected: &str) -> QueryError {
        let saved = Parser {
            text: self.text,
            pos,
        };
        QueryError {
            at: self.text[..pos].chars().count() + 1,
            expected: expected.to_owned(),
            found: saved.found(),
        }
    }

    /// The identifier at the current position (letters, digits, `_`), not consumed.
    fn word(&self) -> &str {
        let rest = self.rest();
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        &rest[..end]
    }

    /// Consumes the operator `op` when it is next.
    fn operator(&mut self, op: &str) -> bool {
        self.skip_space();
        if self.word() == op {
            self.pos += op.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self, depth: usize) -> Result<Node, QueryError> {
        let mut any = vec![self.and(depth)?];
        while self.operator("OR") {
            any.push(self.and(depth)?);
        }
        Ok(if any.len() == 1 {
            any.swap_remove(0)
        } else {
            Node::Or(any)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Node, QueryError> {
        let mut all = vec![self.unary(depth)?];
        while self.operator("AND") {
            all.push(self.unary(depth)?);
        }
        Ok(if all.len() == 1 {
            all.swap_remove(0)
        } else {
            Node::And(all)
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Node, QueryError> {
        self.skip_space();
        if !self.rest().starts_with('(') {
            return self.term();
        }
        if depth >= MAX_DEPTH {
            return Err(self.error(&format!("at most {MAX_DEPTH} nested parentheses")));
        }
        self.pos += 1;
        let node = self.or(depth + 1)?;
        self.skip_space();
        if !self.rest().starts_with(')') {
            return Err(self.error("AND, OR or \")\""));
        }
        self.pos += 1;
        Ok(node)
    }

    fn term(&mut self) -> Result<Node, QueryError> {
        let start = self.pos;
        let name = self.word();
        let exists = name == "_exists_";
        let field = Field::named(name);
        if field.is_none() && !exists {
            return Err(self.error(&format!("a field ({}) or \"(\"", Field::EXPECTED)));
        }
        self.pos += name.len();
        if !self.rest().starts_with(':') {
            return Err(self.error("\":\" after the field name"));
        }
        self.pos += 1;
        if exists {
            let at = self.pos;
            if !self.rest().starts_with('"') {
                return Err(self.error("a quoted field name after _exists_:"));
            }
            let name = self.delimited('"')?;
            return match Field::named(&name) {
                Some(f) => Ok(Node::Exists(f)),
                None => Err(self.error_at(at, "a quoted field name after _exists_:")),
            };
        }
        let field = field.ok_or_else(|| self.error_at(start, Field::EXPECTED))?;
        Ok(Node::Term(field, self.value()?))
    }

    /// A quoted text or a `/regex/`.
    fn value(&mut self) -> Result<Value, QueryError> {
        let start = self.pos;
        match self.rest().chars().next() {
            Some('"') => Ok(Value::Text(self.delimited('"')?)),
            Some('/') => {
                let pattern = self.delimited('/')?;
                Regex::new(&format!("^(?:{pattern})$"))
                    .map(Value::Regex)
                    .map_err(|e| {
                        let why = e.to_string().lines().last().unwrap_or("").to_owned();
                        self.error_at(start, &format!("a valid regular expression ({why})"))
                    })
            }
            _ => Err(self.error("a quoted value (\"…\") or a regular expression (/…/)")),
        }
    }

    /// The text between `delimiter` (at the current position) and the next unescaped one.
    /// A backslash escapes any character; in a regex only `\/` is ours, other escapes are
    /// the regex's and stay.
    fn delimited(&mut self, delimiter: char) -> Result<String, QueryError> {
        let start = self.pos;
        self.pos += 1;
        let unclosed = |p: &Self| p.error_at(start, &format!("a closing {delimiter}"));
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(unclosed(self)),
                Some((i, c)) if c == delimiter => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, c)) if delimiter == '/' && c != '/' => {
                        out.push('\\');
                        out.push(c);
                    }
                    Some((_, c)) => out.push(c),
                    None => return Err(unclosed(self)),
                },
                Some((_, c)) => out.push(c),
            }
        };
        self.pos += end + 1;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(query: &str, path: &str) -> bool {
        Query::parse(query).unwrap().matches(&PathParts::of(path))
    }

    #[test]
    fn paths_split_into_the_hubs_fields() {
        let p = PathParts::of("a/b/model.Q4.gguf");
        assert_eq!(
            (p.prefix, p.filename, p.extension),
            ("a/b/", "model.Q4", "gguf")
        );
        let p = PathParts::of("config.json");
        assert_eq!((p.prefix, p.filename, p.extension), ("", "config", "json"));
        let p = PathParts::of("x/.gitattributes");
        assert_eq!((p.filename, p.extension), (".gitattributes", ""));
        let p = PathParts::of("ckpt/tensor00000_000");
        assert_eq!((p.filename, p.extension), ("tensor00000_000", ""));
    }

    #[test]
    fn terms_match_their_whole_field() {
        assert!(matches(
            r#"path:"adapter_config.json""#,
            "adapter_config.json"
        ));
        assert!(!matches(
            r#"path:"adapter_config.json""#,
            "x/adapter_config.json"
        ));
        assert!(matches(r#"path_extension:"nemo""#, "deep/er/m.nemo"));
        assert!(!matches(r#"path_extension:"nemo""#, "m.nemo.bak"));
        assert!(!matches(r#"path_extension:".pth""#, "m.pth"));
        assert!(matches(r#"path_filename:"config""#, "sub/config.yaml"));
        assert!(!matches(r#"path_filename:"config""#, "config_x.yaml"));
        assert!(matches(r#"path_prefix:"checkpoints/""#, "checkpoints/a.pt"));
        assert!(!matches(
            r#"path_prefix:"checkpoints/""#,
            "checkpoints/x/a.pt"
        ));
        assert!(matches(r#"_exists_:"path_prefix""#, "a/b.mil"));
        assert!(!matches(r#"_exists_:"path_prefix""#, "b.mil"));
        assert!(matches(r#"path:"say \"hi\".txt""#, r#"say "hi".txt"#));
    }

    #[test]
    fn regex_values_are_anchored_and_unescape_slashes() {
        let q = r#"path:/shard-\d+\.bin/"#;
        assert!(matches(q, "shard-00001.bin"));
        assert!(!matches(q, "x/shard-00001.bin"));
        assert!(!matches(q, "shard-1.bin.tmp"));
        assert!(matches(r#"path:/onnx\/[^\/]+/"#, "onnx/model"));
        assert!(matches(r#"path_extension:/pt|pth/"#, "a.pth"));
        assert!(!matches(r#"path_extension:/pt|pth/"#, "a.ptx"));
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_group() {
        // a OR (b AND c)
        let q = r#"path:"a" OR path_filename:"b" AND path_extension:"c""#;
        assert!(matches(q, "a"));
        assert!(matches(q, "b.c"));
        assert!(!matches(q, "b.d"));
        // (a OR b) AND c
        let q = r#"(path_filename:"a" OR path_filename:"b") AND path_extension:"c""#;
        assert!(matches(q, "a.c"));
        assert!(!matches(q, "a.d"));
        assert!(matches(q, "b.c"));
        let multiline = "path:\"x.bin\"\n\t\t\tOR path:\"y.bin\"";
        assert!(matches(multiline, "y.bin"));
    }

    #[test]
    fn errors_name_the_position_and_what_was_expected() {
        for (query, at, expected) in [
            ("", 1, "a field"),
            ("path", 5, "\":\""),
            (r#"path:"x" OR"#, 12, "a field"),
            (r#"path:"x" path:"y""#, 10, "AND, OR or the end"),
            (r#"name:"x""#, 1, "a field (path, path_prefix"),
            (r#"path:x"#, 6, "a quoted value"),
            (r#"path:"x"#, 6, "a closing \""),
            (r#"(path:"x""#, 10, "AND, OR or \")\""),
            (r#"path:/(/"#, 6, "a valid regular expression"),
            (r#"_exists_:"size""#, 10, "a quoted field name"),
            (r#"_exists_:/path/"#, 10, "a quoted field name"),
            (r#"path:"x" and path:"y""#, 10, "AND, OR or the end"),
        ] {
            let e = Query::parse(query).unwrap_err();
            assert_eq!(e.at, at, "{query}: {e}");
            assert!(e.expected.starts_with(expected), "{query}: {e}");
        }
        let e = Query::parse(r#"path:"é" ORR"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "at character 10: expected AND, OR or the end of the query, found \"ORR\""
        );
        let deep = format!("{}path:\"x\"{}", "(".repeat(40), ")".repeat(40));
        assert!(Query::parse(&deep).unwrap_err().expected.contains("nested"));
    }

    proptest::proptest! {
        /// Any text parses or is refused with a position inside it; never a panic. Texts are
        /// drawn from the query's own alphabet so that deep and long queries are common.
        #[test]
        fn any_text_parses_or_is_refused_at_a_position_inside_it(
            text in r#"([()"/\\: ]|path|_prefix|_filename|_extension|_exists_|AND|OR|x|\.|\*|é){0,40}"#,
            path in "[a-z./]{0,12}",
        ) {
            match Query::parse(&text) {
                Ok(query) => {
                    let _ = query.matches(&PathParts::of(&path));
                }
                Err(e) => proptest::prop_assert!(e.at <= text.chars().count() + 1, "{e}"),
            }
        }
    }
}
