//! A small SOQL subset: `SELECT f, Rel.f | COUNT() FROM Object [WHERE …] [ORDER BY f [ASC] [, …]]
//! [LIMIT n]`, where `WHERE` combines `=`, `!=`, `<`, `<=`, `>`, `>=`, `LIKE`, `IN`, `NOT IN`
//! comparisons with `AND`, `OR`, `NOT` and parentheses. Errors carry Salesforce's error codes and
//! message shapes (`INVALID_FIELD`, `INVALID_TYPE`, `MALFORMED_QUERY`).

use std::cmp::Ordering;
use std::collections::HashSet;

use serde_json::Value;

use crate::data::OrgData;
use crate::schema::{Rec, SObject};

/// A query error: Salesforce error code plus message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SoqlError {
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(Vec<(char, bool)>),
    Num(f64),
    Sym(&'static str),
    /// `LAST_N_DAYS:n`.
    LastNDays(u32),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    column: usize,
}

fn malformed(soql: &str, column: usize, what: &str) -> SoqlError {
    SoqlError { code: "MALFORMED_QUERY", message: positioned(soql, column, what) }
}

fn positioned(soql: &str, column: usize, what: &str) -> String {
    format!("\n{soql}\n{}^\nERROR at Row:1:Column:{column}\n{what}", " ".repeat(column.saturating_sub(1)))
}

fn tokenize(soql: &str) -> Result<Vec<Token>, SoqlError> {
    let chars: Vec<char> = soql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // Date literals with a parameter: `LAST_N_DAYS:30`.
            if word.eq_ignore_ascii_case("LAST_N_DAYS") && chars.get(i) == Some(&':') {
                let digits_from = i + 1;
                let mut end = digits_from;
                while end < chars.len() && chars[end].is_ascii_digit() {
                    end += 1;
                }
                let days: String = chars[digits_from..end].iter().collect();
                let days = days
                    .parse()
                    .map_err(|_| malformed(soql, column, &format!("unexpected token: '{word}:'")))?;
                out.push(Token { tok: Tok::LastNDays(days), column });
                i = end;
                continue;
            }
            out.push(Token { tok: Tok::Word(word), column });
        } else if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n =
                text.parse().map_err(|_| malformed(soql, column, &format!("unexpected token: '{text}'")))?;
            out.push(Token { tok: Tok::Num(n), column });
        } else if c == '\'' {
            i += 1;
            let mut value = Vec::new();
            loop {
                match chars.get(i) {
                    None => return Err(malformed(soql, column, "unexpected token: <EOF>")),
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some('\\') => {
                        let escaped = chars.get(i + 1).copied().unwrap_or('\\');
                        match escaped {
                            '%' | '_' => value.push((escaped, true)),
                            'n' => value.push(('\n', false)),
                            't' => value.push(('\t', false)),
                            'r' => value.push(('\r', false)),
                            '\'' | '"' | '\\' => value.push((escaped, false)),
                            other => {
                                return Err(malformed(
                                    soql,
                                    i + 1,
                                    &format!(
                                        "Invalid string literal '\\{other}'. Illegal character sequence '\\{other}' in string literal."
                                    ),
                                ));
                            }
                        }
                        i += 2;
                    }
                    Some(&ch) => {
                        value.push((ch, false));
                        i += 1;
                    }
                }
            }
            out.push(Token { tok: Tok::Str(value), column });
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let sym = match two.as_str() {
                "<=" => Some("<="),
                ">=" => Some(">="),
                "!=" => Some("!="),
                "<>" => Some("!="),
                _ => None,
            };
            if let Some(sym) = sym {
                out.push(Token { tok: Tok::Sym(sym), column });
                i += 2;
                continue;
            }
            let sym = match c {
                ',' => ",",
                '(' => "(",
                ')' => ")",
                '=' => "=",
                '<' => "<",
                '>' => ">",
                _ => return Err(malformed(soql, column, &format!("unexpected token: '{c}'"))),
            };
            out.push(Token { tok: Tok::Sym(sym), column });
            i += 1;
        }
    }
    Ok(out)
}

/// A field path as written, e.g. `Profile.UserLicense.Name`.
#[derive(Debug, Clone)]
struct RawPath {
    text: String,
    column: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone)]
enum Lit {
    /// A date literal such as `LAST_N_DAYS:n`: the datetimes from the first (included) to the
    /// second (excluded), in Salesforce's fixed-width UTC form.
    During(String, String),
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone)]
enum RawExpr {
    Or(Vec<RawExpr>),
    And(Vec<RawExpr>),
    Not(Box<RawExpr>),
    Cmp(RawPath, Op, Lit),
    Like(RawPath, Vec<(char, bool)>),
    In(RawPath, Vec<Lit>, bool),
}

struct Parser<'a> {
    soql: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    fn column(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.soql.chars().count() + 1, |t| t.column)
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn unexpected(&self) -> SoqlError {
        let what = match self.peek() {
            None => "unexpected token: <EOF>".to_string(),
            Some(Tok::Word(w)) => format!("unexpected token: {w}"),
            Some(Tok::Sym(s)) => format!("unexpected token: '{s}'"),
            Some(Tok::Num(n)) => format!("unexpected token: {n}"),
            Some(Tok::Str(s)) => format!("unexpected token: '{}'", s.iter().map(|c| c.0).collect::<String>()),
            Some(Tok::LastNDays(n)) => format!("unexpected token: LAST_N_DAYS:{n}"),
        };
        malformed(self.soql, self.column(), &what)
    }

    fn expect_word(&mut self, word: &str) -> Result<(), SoqlError> {
        if self.is_word(word) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn expect_sym(&mut self, sym: &str) -> Result<(), SoqlError> {
        if self.peek()
            == Some(&Tok::Sym(match sym {
                "(" => "(",
                ")" => ")",
                _ => ",",
            }))
        {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn path(&mut self) -> Result<RawPath, SoqlError> {
        match self.tokens.get(self.pos) {
            Some(Token { tok: Tok::Word(w), column }) if !is_keyword(w) => {
                let p = RawPath { text: w.clone(), column: *column };
                self.pos += 1;
                Ok(p)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn literal(&mut self) -> Result<Lit, SoqlError> {
        let lit = match self.peek() {
            Some(Tok::Str(s)) => Lit::Str(s.iter().map(|c| c.0).collect()),
            Some(Tok::Num(n)) => Lit::Num(*n),
            Some(Tok::LastNDays(n)) => {
                // From midnight `n` days before the org's current day to the end of that day.
                let today = crate::data::REFERENCE_TIME - crate::data::REFERENCE_TIME.rem_euclid(86_400);
                Lit::During(
                    crate::data::OrgData::last_n_days_start(*n).salesforce(),
                    crate::data::SfDateTime(today + 86_400).salesforce(),
                )
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Lit::Bool(true),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Lit::Bool(false),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Lit::Null,
            _ => return Err(self.unexpected()),
        };
        self.pos += 1;
        Ok(lit)
    }

    fn or_expr(&mut self) -> Result<RawExpr, SoqlError> {
        let mut parts = vec![self.and_expr()?];
        while self.is_word("OR") {
            self.pos += 1;
            parts.push(self.and_expr()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { RawExpr::Or(parts) })
    }

    fn and_expr(&mut self) -> Result<RawExpr, SoqlError> {
        let mut parts = vec![self.not_expr()?];
        while self.is_word("AND") {
            self.pos += 1;
            parts.push(self.not_expr()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { RawExpr::And(parts) })
    }

    fn not_expr(&mut self) -> Result<RawExpr, SoqlError> {
        if self.is_word("NOT") {
            self.pos += 1;
            return Ok(RawExpr::Not(Box::new(self.not_expr()?)));
        }
        if self.peek() == Some(&Tok::Sym("(")) {
            self.pos += 1;
            let inner = self.or_expr()?;
            self.expect_sym(")")?;
            return Ok(inner);
        }
        let path = self.path()?;
        if self.is_word("LIKE") {
            self.pos += 1;
            return match self.peek() {
                Some(Tok::Str(s)) => {
                    let pattern = s.clone();
                    self.pos += 1;
                    Ok(RawExpr::Like(path, pattern))
                }
                _ => Err(self.unexpected()),
            };
        }
        let negated = if self.is_word("NOT") {
            self.pos += 1;
            if !self.is_word("IN") {
                return Err(self.unexpected());
            }
            true
        } else {
            false
        };
        if self.is_word("IN") {
            self.pos += 1;
            self.expect_sym("(")?;
            let mut values = vec![self.literal()?];
            while self.peek() == Some(&Tok::Sym(",")) {
                self.pos += 1;
                values.push(self.literal()?);
            }
            self.expect_sym(")")?;
            return Ok(RawExpr::In(path, values, negated));
        }
        let op = match self.peek() {
            Some(Tok::Sym("=")) => Op::Eq,
            Some(Tok::Sym("!=")) => Op::Ne,
            Some(Tok::Sym("<")) => Op::Lt,
            Some(Tok::Sym("<=")) => Op::Le,
            Some(Tok::Sym(">")) => Op::Gt,
            Some(Tok::Sym(">=")) => Op::Ge,
            _ => return Err(self.unexpected()),
        };
        self.pos += 1;
        Ok(RawExpr::Cmp(path, op, self.literal()?))
    }
}

fn is_keyword(w: &str) -> bool {
    ["SELECT", "FROM", "WHERE", "ORDER", "BY", "LIMIT", "AND", "OR", "NOT", "LIKE", "IN", "ASC", "DESC"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(w))
}

/// A step through a lookup: the relationship name as Salesforce spells it and the parent object.
#[derive(Debug, Clone)]
struct Hop {
    lookup_field: String,
    relationship: String,
    target: SObject,
}

/// A validated field path.
#[derive(Debug, Clone)]
struct Path {
    hops: Vec<Hop>,
    field: String,
}

#[derive(Debug, Clone)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Cmp(Path, Op, Lit),
    Like(Path, Vec<(char, bool)>),
    In(Path, Vec<Lit>, bool),
}

/// A parsed and validated query, ready to run against [`OrgData`].
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub object: SObject,
    pub count_only: bool,
    /// The `SELECT` list (the tests read it; serving uses the tree).
    #[cfg(test)]
    select: Vec<Path>,
    /// The `SELECT` list as written out: built once.
    tree: Node,
    filter: Option<Expr>,
    pub limit: Option<u64>,
}

/// What the org hides from the querying user.
pub(crate) struct Visibility<'a> {
    pub hidden_objects: &'a HashSet<SObject>,
    pub hidden_fields: &'a HashSet<(SObject, String)>,
}

impl Visibility<'_> {
    fn field_visible(&self, object: SObject, field: &str) -> bool {
        !self.hidden_fields.contains(&(object, field.to_string()))
    }
}

/// Whether records of `object`, returned in slot order (the order of every answer), are also
/// in ascending order of `field`: `Id` always (ids encode the slot); the user id of the
/// assignment objects too, because their slots are numbered user by user
/// (`user index × slots per user + k`). So `ORDER BY AssigneeId, Id` needs no sorting and
/// paging stays a stateless scan of slots, even at a million users.
fn follows_record_order(object: SObject, field: &str) -> bool {
    match field {
        "Id" => true,
        "AssigneeId" => {
            matches!(object, SObject::PermissionSetLicenseAssign | SObject::PermissionSetAssignment)
        }
        "UserId" => {
            matches!(object, SObject::UserPackageLicense | SObject::UserLogin | SObject::LoginHistory)
        }
        _ => false,
    }
}

/// Just the `FROM` object name, for routing and fault matching before full parsing.
pub(crate) fn from_object(soql: &str) -> Option<String> {
    let tokens = tokenize(soql).ok()?;
    let at = tokens.iter().position(|t| matches!(&t.tok, Tok::Word(w) if w.eq_ignore_ascii_case("FROM")))?;
    match &tokens.get(at + 1)?.tok {
        Tok::Word(w) => Some(w.clone()),
        _ => None,
    }
}

/// Parses and validates `soql`; hidden objects are reported as unknown (`INVALID_TYPE`).
pub(crate) fn parse(soql: &str, visibility: &Visibility<'_>) -> Result<Query, SoqlError> {
    if soql.trim().is_empty() {
        return Err(SoqlError {
            code: "MALFORMED_QUERY",
            message: "SOQL statements cannot be empty or null".into(),
        });
    }
    let mut p = Parser { soql, tokens: tokenize(soql)?, pos: 0 };
    p.expect_word("SELECT")?;
    let mut raw_select = Vec::new();
    let mut count_only = false;
    if p.is_word("COUNT") && p.tokens.get(p.pos + 1).map(|t| &t.tok) == Some(&Tok::Sym("(")) {
        p.pos += 2;
        p.expect_sym(")")?;
        count_only = true;
    } else {
        raw_select.push(p.path()?);
        while p.peek() == Some(&Tok::Sym(",")) {
            p.pos += 1;
            raw_select.push(p.path()?);
        }
    }
    p.expect_word("FROM")?;
    let object_column = p.column();
    let object_name = match p.peek() {
        Some(Tok::Word(w)) => w.clone(),
        _ => return Err(p.unexpected()),
    };
    p.pos += 1;
    let object = SObject::from_name(&object_name)
        .filter(|o| !visibility.hidden_objects.contains(o))
        .ok_or_else(|| SoqlError {
            code: "INVALID_TYPE",
            message: positioned(
                soql,
                object_column,
                &format!(
                    "sObject type '{object_name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
                ),
            ),
        })?;
    let raw_filter = if p.is_word("WHERE") {
        p.pos += 1;
        Some(p.or_expr()?)
    } else {
        None
    };
    let mut raw_order = Vec::new();
    if p.is_word("ORDER") {
        p.pos += 1;
        p.expect_word("BY")?;
        loop {
            raw_order.push(p.path()?);
            if p.is_word("ASC") {
                p.pos += 1;
            } else if p.is_word("DESC") {
                return Err(malformed(
                    soql,
                    p.column(),
                    "the simulated org supports ascending ORDER BY only",
                ));
            }
            if p.peek() != Some(&Tok::Sym(",")) {
                break;
            }
            p.pos += 1;
        }
    }
    let mut limit = None;
    if p.is_word("LIMIT") {
        p.pos += 1;
        match p.peek() {
            Some(Tok::Num(n)) if *n >= 0.0 && n.fract() == 0.0 => {
                #[allow(clippy::cast_possible_truncation)] // checked: a non-negative whole number
                let whole = *n as u64;
                limit = Some(whole);
                p.pos += 1;
            }
            _ => return Err(p.unexpected()),
        }
    }
    if p.peek().is_some() {
        return Err(p.unexpected());
    }
    let resolve = |raw: &RawPath| resolve_path(soql, object, raw, visibility);
    let select = raw_select.iter().map(resolve).collect::<Result<Vec<_>, _>>()?;
    // Salesforce refuses a `WHERE` on a field describe marks not filterable (LoginHistory.Status).
    let resolve_filtered = |raw: &RawPath| {
        let path = resolve(raw)?;
        let target = path.hops.last().map_or(object, |hop| hop.target);
        if target.describe().field(&path.field).is_some_and(|f| !f.filterable) {
            return Err(SoqlError {
                code: "INVALID_FIELD",
                message: positioned(
                    soql,
                    raw.column,
                    &format!("field '{}' can not be filtered in a query call", path.field),
                ),
            });
        }
        Ok(path)
    };
    let filter = raw_filter.map(|f| resolve_expr(f, &resolve_filtered)).transpose()?;
    for raw in &raw_order {
        let by = resolve(raw)?;
        if !by.hops.is_empty() || !follows_record_order(object, &by.field) {
            return Err(malformed(
                soql,
                raw.column,
                "the simulated org supports ORDER BY only on fields that follow its record order: Id, and \
                 AssigneeId on PermissionSetLicenseAssign and PermissionSetAssignment, UserId on UserPackageLicense \
                 (records are always returned in that order)",
            ));
        }
    }
    let tree = Query::tree(&select);
    Ok(Query {
        object,
        count_only,
        #[cfg(test)]
        select,
        tree,
        filter,
        limit,
    })
}

fn resolve_expr(
    raw: RawExpr,
    resolve: &dyn Fn(&RawPath) -> Result<Path, SoqlError>,
) -> Result<Expr, SoqlError> {
    Ok(match raw {
        RawExpr::Or(parts) => {
            Expr::Or(parts.into_iter().map(|p| resolve_expr(p, resolve)).collect::<Result<_, _>>()?)
        }
        RawExpr::And(parts) => {
            Expr::And(parts.into_iter().map(|p| resolve_expr(p, resolve)).collect::<Result<_, _>>()?)
        }
        RawExpr::Not(inner) => Expr::Not(Box::new(resolve_expr(*inner, resolve)?)),
        RawExpr::Cmp(path, op, lit) => Expr::Cmp(resolve(&path)?, op, lit),
        RawExpr::Like(path, pattern) => Expr::Like(resolve(&path)?, pattern),
        RawExpr::In(path, values, negated) => Expr::In(resolve(&path)?, values, negated),
    })
}

fn resolve_path(
    soql: &str,
    base: SObject,
    raw: &RawPath,
    visibility: &Visibility<'_>,
) -> Result<Path, SoqlError> {
    let segments: Vec<&str> = raw.text.split('.').collect();
    let mut object = base;
    let mut hops = Vec::new();
    let (last, rels) = segments.split_last().unwrap_or((&"", &[]));
    for rel in rels {
        let describe = object.describe();
        let lookup = describe
            .relationship(rel)
            .filter(|f| visibility.field_visible(object, &f.name))
            .and_then(|f| Some((f, f.reference_to?)))
            .filter(|(_, target)| !visibility.hidden_objects.contains(target));
        let Some((lookup, target)) = lookup else {
            return Err(SoqlError {
                code: "INVALID_FIELD",
                message: positioned(
                    soql,
                    raw.column,
                    &format!(
                        "Didn't understand relationship '{rel}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names."
                    ),
                ),
            });
        };
        hops.push(Hop {
            lookup_field: lookup.name.clone(),
            relationship: lookup.relationship_name.clone().unwrap_or_default(),
            target,
        });
        object = target;
    }
    let field = object
        .describe()
        .field(last)
        .filter(|f| visibility.field_visible(object, &f.name))
        .ok_or_else(|| SoqlError {
            code: "INVALID_FIELD",
            message: positioned(
                soql,
                raw.column,
                &format!(
                    "No such column '{last}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
                    object.name()
                ),
            ),
        })?;
    Ok(Path { hops, field: field.name.clone() })
}

fn parent<'a>(data: &'a OrgData, rec: &Rec<'_>, hop: &Hop) -> Option<Rec<'a>> {
    let id = rec.field(&hop.lookup_field)?;
    hop.target.record_by_id(data, id.as_str()?)
}

fn value_of(data: &OrgData, rec: &Rec<'_>, path: &Path) -> Value {
    let mut current: Option<Rec<'_>> = None;
    for hop in &path.hops {
        let next = match &current {
            None => parent(data, rec, hop),
            Some(r) => parent(data, r, hop),
        };
        match next {
            Some(n) => current = Some(n),
            None => return Value::Null,
        }
    }
    current.as_ref().unwrap_or(rec).field(&path.field).unwrap_or(Value::Null)
}

fn like(pattern: &[(char, bool)], text: &str) -> bool {
    let text: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let pattern: Vec<(char, bool)> =
        pattern.iter().flat_map(|&(c, escaped)| c.to_lowercase().map(move |l| (l, escaped))).collect();
    // Classic wildcard matching with backtracking on the last '%'.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(('%', false)) => {
                star = Some((p, t));
                p += 1;
            }
            Some(&(c, escaped)) if (c == '_' && !escaped) || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&(c, escaped)| c == '%' && !escaped)
}

fn compare(value: &Value, lit: &Lit, field: &str) -> Option<Ordering> {
    match (value, lit) {
        // Salesforce datetimes are fixed-width UTC text, so they compare as strings.
        (Value::String(at), Lit::During(start, end)) => Some(if at < start {
            Ordering::Less
        } else if at >= end {
            Ordering::Greater
        } else {
            Ordering::Equal
        }),
        (Value::String(a), Lit::Str(b)) if field == "Id" || field.ends_with("Id") => {
            let a15: String = a.chars().take(15).collect();
            let b15: String = b.chars().take(15).collect();
            Some(a15.cmp(&b15))
        }
        (Value::String(a), Lit::Str(b)) => Some(a.to_lowercase().cmp(&b.to_lowercase())),
        (Value::Number(a), Lit::Num(b)) => a.as_f64()?.partial_cmp(b),
        (Value::Bool(a), Lit::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

fn eval(data: &OrgData, rec: &Rec<'_>, expr: &Expr) -> bool {
    match expr {
        Expr::Or(parts) => parts.iter().any(|e| eval(data, rec, e)),
        Expr::And(parts) => parts.iter().all(|e| eval(data, rec, e)),
        Expr::Not(inner) => !eval(data, rec, inner),
        Expr::Like(path, pattern) => match value_of(data, rec, path) {
            Value::String(s) => like(pattern, &s),
            _ => false,
        },
        Expr::In(path, values, negated) => {
            let v = value_of(data, rec, path);
            let found = values.iter().any(|l| compare(&v, l, &path.field) == Some(Ordering::Equal));
            found != *negated
        }
        Expr::Cmp(path, op, lit) => {
            let v = value_of(data, rec, path);
            if let Lit::Null = lit {
                return match op {
                    Op::Eq => v.is_null(),
                    Op::Ne => !v.is_null(),
                    _ => false,
                };
            }
            let Some(ord) = compare(&v, lit, &path.field) else {
                return *op == Op::Ne && !v.is_null();
            };
            match op {
                Op::Eq => ord == Ordering::Equal,
                Op::Ne => ord != Ordering::Equal,
                Op::Lt => ord == Ordering::Less,
                Op::Le => ord != Ordering::Greater,
                Op::Gt => ord == Ordering::Greater,
                Op::Ge => ord != Ordering::Less,
            }
        }
    }
}

impl Query {
    /// Whether `rec` passes the `WHERE` clause.
    pub fn matches(&self, data: &OrgData, rec: &Rec<'_>) -> bool {
        self.filter.as_ref().is_none_or(|f| eval(data, rec, f))
    }

    /// The checkbox of `SELECT COUNT() FROM User WHERE IsActive = true AND <checkbox> = true`
    /// (the two in either order, no `LIMIT`): a count the org answers without a scan.
    pub fn active_user_checkbox_count(&self) -> Option<&str> {
        if !self.count_only || self.object != SObject::User || self.limit.is_some() {
            return None;
        }
        let Some(Expr::And(parts)) = &self.filter else { return None };
        let [first, second] = parts.as_slice() else { return None };
        fn is_true(expr: &Expr) -> Option<&str> {
            match expr {
                Expr::Cmp(path, Op::Eq, Lit::Bool(true)) if path.hops.is_empty() => Some(path.field.as_str()),
                _ => None,
            }
        }
        let (first, second) = (is_true(first)?, is_true(second)?);
        match (first.eq_ignore_ascii_case("IsActive"), second.eq_ignore_ascii_case("IsActive")) {
            (true, false) => Some(second),
            (false, true) => Some(first),
            _ => None,
        }
    }

    /// What the row count of this query depends on (the object, the filter and the limit, not
    /// the `SELECT` list): queries with equal keys have equal totals.
    pub fn total_key(&self) -> String {
        format!("{:?} {:?} {:?}", self.object, self.filter, self.limit)
    }

    /// Whether the filter is only `Id` comparisons (so counting needs no scan on dense objects).
    pub fn filter_is_id_range_only(&self) -> bool {
        fn only_id(e: &Expr) -> bool {
            match e {
                Expr::And(parts) => parts.iter().all(only_id),
                Expr::Cmp(p, op, Lit::Str(_)) => p.hops.is_empty() && p.field == "Id" && *op != Op::Ne,
                _ => false,
            }
        }
        self.filter.as_ref().is_none_or(only_id)
    }

    /// The slot range `[lo, hi)` that top-level `AND`ed `Id` comparisons allow.
    pub fn slot_range(&self, data: &OrgData) -> (u64, u64) {
        let object = self.object;
        let space = object.index_space(data);
        let (mut lo, mut hi) = (0, space);
        let mut conjuncts: Vec<&Expr> = Vec::new();
        match &self.filter {
            Some(Expr::And(parts)) => conjuncts.extend(parts.iter()),
            Some(other) => conjuncts.push(other),
            None => {}
        }
        for c in conjuncts {
            let Expr::Cmp(path, op, Lit::Str(lit)) = c else { continue };
            if !path.hops.is_empty() || path.field != "Id" {
                continue;
            }
            let lit15: String = lit.chars().take(15).collect();
            // First slot whose id is > (or >=) the literal.
            let first_where = |strict: bool| {
                partition_point(space, |slot| {
                    let id15: String = object.id_at(slot).chars().take(15).collect();
                    if strict { id15 <= lit15 } else { id15 < lit15 }
                })
            };
            match op {
                Op::Gt => lo = lo.max(first_where(true)),
                Op::Ge => lo = lo.max(first_where(false)),
                Op::Lt => hi = hi.min(first_where(false)),
                Op::Le => hi = hi.min(first_where(true)),
                Op::Eq => {
                    lo = lo.max(first_where(false));
                    hi = hi.min(first_where(true));
                }
                Op::Ne => {}
            }
        }
        (lo, hi.max(lo))
    }

    /// Writes one record as Salesforce JSON (attributes first, then fields in `SELECT` order).
    pub fn write_record(&self, out: &mut String, data: &OrgData, rec: &Rec<'_>, version: &str) {
        write_node(out, data, Some(rec), &self.tree, version);
    }

    /// The `SELECT` list as a tree of relationships, built once per query (not per record).
    fn tree(select: &[Path]) -> Node {
        let mut root = Node::default();
        for path in select {
            let mut node = &mut root;
            for hop in &path.hops {
                let at = match node.children.iter().position(|(h, _)| h.relationship == hop.relationship) {
                    Some(at) => at,
                    None => {
                        node.order.push(Item::Child(node.children.len()));
                        node.children.push((hop.clone(), Node::default()));
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[at].1;
            }
            if !node.fields.contains(&path.field) {
                node.order.push(Item::Field(node.fields.len()));
                node.fields.push(path.field.clone());
            }
        }
        root
    }
}

#[derive(Debug, Clone, Default)]
struct Node {
    order: Vec<Item>,
    fields: Vec<String>,
    children: Vec<(Hop, Node)>,
}

#[derive(Debug, Clone)]
enum Item {
    Field(usize),
    Child(usize),
}

fn write_node(out: &mut String, data: &OrgData, rec: Option<&Rec<'_>>, node: &Node, version: &str) {
    let Some(rec) = rec else {
        out.push_str("null");
        return;
    };
    // Plain pushes and serde_json's serialiser rather than `format!` and `Value`'s `Display`:
    // a page of 2,000 users is rendered while the client waits, on the bench's shared cores.
    let object = rec.object().name();
    for part in [
        "{\"attributes\":{\"type\":\"",
        object,
        "\",\"url\":\"/services/data/v",
        version,
        "/sobjects/",
        object,
        "/",
    ] {
        out.push_str(part);
    }
    out.push_str(rec.id());
    out.push_str("\"}");
    for item in &node.order {
        out.push(',');
        match item {
            Item::Field(i) => {
                let name = &node.fields[*i];
                out.push('"');
                out.push_str(name);
                out.push_str("\":");
                match rec.field(name) {
                    Some(value) => {
                        out.push_str(&serde_json::to_string(&value).unwrap_or_else(|_| "null".to_owned()));
                    }
                    None => out.push_str("null"),
                }
            }
            Item::Child(i) => {
                let (hop, child) = &node.children[*i];
                out.push('"');
                out.push_str(&hop.relationship);
                out.push_str("\":");
                let parent_rec = parent(data, rec, hop);
                write_node(out, data, parent_rec.as_ref(), child, version);
            }
        }
    }
    out.push('}');
}

impl Query {
    /// The header row of a Bulk API 2.0 CSV result: the field names, relationship fields as
    /// `Rel.Field`, every one quoted.
    pub fn csv_header(&self) -> String {
        let mut names = Vec::new();
        csv_names(&self.tree, "", &mut names);
        let quoted: Vec<String> = names.iter().map(|name| csv_cell(name)).collect();
        let mut line = quoted.join(",");
        line.push('\n');
        line
    }

    /// One record as a Bulk API 2.0 CSV row: every value quoted, nulls empty, datetimes as
    /// `2025-06-01T12:00:00.000Z`.
    pub fn write_csv_row(&self, out: &mut String, data: &OrgData, rec: &Rec<'_>) {
        let mut first = true;
        csv_values(out, data, Some(rec), &self.tree, &mut first);
        out.push('\n');
    }
}

fn csv_names(node: &Node, prefix: &str, names: &mut Vec<String>) {
    for item in &node.order {
        match item {
            Item::Field(i) => names.push(format!("{prefix}{}", node.fields[*i])),
            Item::Child(i) => {
                let (hop, child) = &node.children[*i];
                csv_names(child, &format!("{prefix}{}.", hop.relationship), names);
            }
        }
    }
}

fn csv_cell(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn csv_values(out: &mut String, data: &OrgData, rec: Option<&Rec<'_>>, node: &Node, first: &mut bool) {
    for item in &node.order {
        match item {
            Item::Field(i) => {
                if !*first {
                    out.push(',');
                }
                *first = false;
                let value = rec.and_then(|r| r.field(&node.fields[*i])).unwrap_or(Value::Null);
                match value {
                    Value::Null => {}
                    Value::String(text) => {
                        // REST's `…000+0000` is Bulk's `…000Z`.
                        let text = match text.strip_suffix("+0000") {
                            Some(head) if text.len() == 28 => format!("{head}Z"),
                            _ => text,
                        };
                        out.push_str(&csv_cell(&text));
                    }
                    other => out.push_str(&csv_cell(&other.to_string())),
                }
            }
            Item::Child(i) => {
                let (hop, child) = &node.children[*i];
                let parent_rec = rec.and_then(|r| parent(data, r, hop));
                csv_values(out, data, parent_rec.as_ref(), child, first);
            }
        }
    }
}

/// Smallest `x` in `[0, n]` with `!pred(x)`, assuming `pred` is true then false.
fn partition_point(n: u64, pred: impl Fn(u64) -> bool) -> u64 {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The SELECT list as canonical paths, for tests.
#[cfg(test)]
fn selected(q: &Query) -> Vec<String> {
    q.select
        .iter()
        .map(|p| {
            let mut parts: Vec<String> = p.hops.iter().map(|h| h.relationship.clone()).collect();
            parts.push(p.field.clone());
            parts.join(".")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OrgSpec;

    fn open() -> (HashSet<SObject>, HashSet<(SObject, String)>) {
        (HashSet::new(), HashSet::new())
    }

    fn q(soql: &str) -> Result<Query, SoqlError> {
        let (o, f) = open();
        parse(soql, &Visibility { hidden_objects: &o, hidden_fields: &f })
    }

    #[test]
    fn parses_fields_relationships_and_canonical_names() {
        let query =
            q("select id, profile.userlicense.name, Profile.UserLicenseId FROM user ORDER BY Id LIMIT 5")
                .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(query.object, SObject::User);
        assert_eq!(selected(&query), ["Id", "Profile.UserLicense.Name", "Profile.UserLicenseId"]);
        assert_eq!(query.limit, Some(5));
    }

    #[test]
    fn unknown_field_gives_salesforce_message_with_column() {
        let err = q("SELECT Id, Foo FROM User").err().unwrap_or_else(|| panic!("accepted"));
        assert_eq!(err.code, "INVALID_FIELD");
        assert!(
            err.message.starts_with("\nSELECT Id, Foo FROM User\n           ^\nERROR at Row:1:Column:12\nNo such column 'Foo' on entity 'User'. If you are attempting to use a custom field"),
            "{}",
            err.message
        );
    }

    #[test]
    fn unknown_object_is_invalid_type() {
        let err = q("select count() from XYZZY").err().unwrap_or_else(|| panic!("accepted"));
        assert_eq!(err.code, "INVALID_TYPE");
        assert!(err.message.contains("ERROR at Row:1:Column:21\nsObject type 'XYZZY' is not supported."));
    }

    #[test]
    fn like_handles_wildcards_case_and_escapes() {
        let pat = |s: &str| match tokenize(s).map(|t| t[0].tok.clone()) {
            Ok(Tok::Str(p)) => p,
            other => panic!("{other:?}"),
        };
        assert!(like(&pat("'%@acme.com'"), "Jo@ACME.com"));
        assert!(!like(&pat("'%@acme.com'"), "eve@notacme.com"));
        assert!(like(&pat("'%.acme.com'"), "x@eu.acme.com"));
        assert!(!like(&pat("'%@acme.com'"), "mal@acme.com.evil.io"));
        assert!(like(&pat(r"'nora\%sales@%'"), "nora%sales@acme.com"));
        assert!(!like(&pat(r"'nora\%sales@%'"), "noraXsales@acme.com"));
        assert!(like(&pat(r"'max\_o\'neil@%'"), "max_o'neil@acme.com"));
        assert!(!like(&pat(r"'max\_o\'neil@%'"), "maxXo'neil@acme.com"));
        assert!(like(&pat("'a_c'"), "abc"));
    }

    #[test]
    fn filters_and_id_ranges_select_the_right_users() {
        let data = OrgData::generate(&OrgSpec::with_users(1_000));
        let lo_id = data.user(100).map(|u| u.id).unwrap_or_default();
        let hi_id = data.user(200).map(|u| u.id).unwrap_or_default();
        let query = q(&format!("SELECT Id FROM User WHERE Id >= '{lo_id}' AND Id < '{}'", &hi_id[..15]))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(query.slot_range(&data), (100, 200));
        assert!(query.filter_is_id_range_only());
        let active = q("SELECT Id FROM User WHERE IsActive = true AND (Email LIKE '%@acme.com' OR Email LIKE '%.acme.com')")
            .unwrap_or_else(|e| panic!("{e:?}"));
        let n = data.users().filter(|u| active.matches(&data, &Rec::User(Box::new(u.clone())))).count();
        let expected = data
            .users()
            .filter(|u| {
                u.is_active
                    && u.email.as_deref().is_some_and(|e| {
                        let e = e.to_lowercase();
                        e.ends_with("@acme.com") || e.ends_with(".acme.com")
                    })
            })
            .count();
        assert_eq!(n, expected);
        assert!(n > 100);
    }

    #[test]
    fn malformed_queries_are_rejected() {
        for bad in [
            "",
            "SELECT FROM User",
            "SELECT Id FROM User WHERE",
            "SELECT Id FROM User ORDER BY Name",
            "SELECT Id FROM User extra",
        ] {
            assert!(q(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn order_by_accepts_fields_that_follow_record_order_only() {
        for good in [
            "SELECT Id FROM User ORDER BY Id",
            "SELECT Id FROM User ORDER BY id ASC",
            "SELECT Id, AssigneeId FROM PermissionSetLicenseAssign ORDER BY AssigneeId, Id",
            "SELECT Id FROM PermissionSetLicenseAssign ORDER BY assigneeid ASC, Id ASC",
            "SELECT Id, UserId FROM UserPackageLicense ORDER BY UserId, Id",
            "SELECT Id FROM UserPackageLicense ORDER BY UserId LIMIT 5",
        ] {
            assert!(q(good).is_ok(), "{good}: {:?}", q(good).err());
        }
        for (bad, what) in [
            ("SELECT Id FROM User ORDER BY Username", "follow its record order"),
            ("SELECT Id FROM User ORDER BY Id, Username", "follow its record order"),
            ("SELECT Id FROM UserPackageLicense ORDER BY AssigneeId", "No such column"),
            ("SELECT Id FROM PermissionSetLicenseAssign ORDER BY PermissionSetLicenseId, Id", "record order"),
            ("SELECT Id FROM User ORDER BY Profile.Id", "follow its record order"),
            ("SELECT Id FROM PermissionSetLicenseAssign ORDER BY AssigneeId DESC", "ascending"),
            ("SELECT Id FROM User ORDER BY Id,", "unexpected"),
        ] {
            let error = q(bad).unwrap_err();
            assert!(error.message.contains(what), "{bad}: {error:?}");
        }
    }
}
