//! The password file of libpq (`~/.pgpass`, `PGPASSFILE`): lines of
//! `hostname:port:database:username:password`, `*` matching anything in the first four fields,
//! `\:` and `\\` for a colon and a backslash, `#` starting a comment line. The first line that
//! matches wins.

/// The password of the first line of `content` matching the connection.
pub(crate) fn lookup(content: &str, host: &str, port: &str, database: &str, user: &str) -> Option<String> {
    content.lines().find_map(|line| {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            return None;
        }
        let fields = split(line);
        let [h, p, d, u, password] = fields.as_slice() else { return None };
        let matches = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        (matches(h, host) && matches(p, port) && matches(d, database) && matches(u, user))
            .then(|| password.clone())
    })
}

/// The fields of a line, unescaped; a password may hold colons only escaped.
fn split(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(field)) = (chars.next(), fields.last_mut()) {
                    field.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => {
                if let Some(field) = fields.last_mut() {
                    field.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_line_wins_with_wildcards_and_escapes() {
        let file = "# comment\n\
                    db.example:5432:other:sfconn:wrong\n\
                    db.example:5432:*:sfconn:pa\\:ss\\\\word\n\
                    *:*:*:*:fallback\n";
        assert_eq!(lookup(file, "db.example", "5432", "history", "sfconn").as_deref(), Some("pa:ss\\word"));
        assert_eq!(lookup(file, "db.example", "5432", "other", "sfconn").as_deref(), Some("wrong"));
        assert_eq!(lookup(file, "elsewhere", "6543", "x", "y").as_deref(), Some("fallback"));
        assert_eq!(lookup("db:5432:x:y\n", "db", "5432", "x", "y"), None, "four fields is no line");
        assert_eq!(lookup("", "db", "5432", "x", "y"), None);
    }
}
