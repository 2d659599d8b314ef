//! The store as a whole: a flujo 0.4 `workflow_state` table keeps its
//! status CHECK constraint when flujo 0.6 opens it. 0.6 upgrades such a
//! table in place (it adds the columns it lacks and sets `user_version` 1)
//! but never rebuilds it, while the table 0.6 creates itself has no CHECK.

use super::{Effect, Finding, Kind};

/// The finding for a `CREATE TABLE` statement whose `status` column has a
/// CHECK constraint, if it has one.
pub(super) fn status_check(create_table: &str) -> Option<Finding> {
    let clause = check_on_status(create_table)?;
    let detail = format!(
        "the table has `{clause}`: 0.6's SQLiteBackend upgrades the table on open (adds its missing columns, PRAGMA user_version 1) and keeps the \
         constraint, where a table it creates has none. Every status flujo 0.6.11 writes is one of its five, so saves still pass, but the schema \
         stays 0.4's (rebuild the table to drop it)"
    );
    Some(Finding { path: String::new(), kind: Kind::StatusCheck, effect: Effect::Change, detail })
}

/// The first `CHECK (...)` clause that names the `status` column.
fn check_on_status(sql: &str) -> Option<&str> {
    let upper = sql.to_ascii_uppercase();
    let mut from = 0;
    while let Some(found) = upper[from..].find("CHECK") {
        let start = from + found;
        let open = start + upper[start..].find('(')?;
        let end = closing_paren(&upper, open)?;
        let body = &upper[open + 1..end];
        if body.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).any(|word| word == "STATUS") {
            return Some(&sql[start..=end]);
        }
        from = end + 1;
    }
    None
}

/// The index of the parenthesis that closes the one at `open`.
fn closing_paren(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_check_on_status_only() {
        let legacy = "CREATE TABLE workflow_state (\n run_id TEXT PRIMARY KEY,\n total INTEGER CHECK (total >= 0),\n status TEXT NOT NULL CHECK (status IN ('running', 'paused')),\n x TEXT)";
        assert_eq!(check_on_status(legacy), Some("CHECK (status IN ('running', 'paused'))"));
        assert!(status_check(legacy).is_some_and(|f| f.kind == Kind::StatusCheck && f.effect == Effect::Change));
        for without in
            ["CREATE TABLE workflow_state (run_id TEXT, status TEXT NOT NULL)", "CREATE TABLE t (n INTEGER CHECK (n > 0), status_text TEXT)", "CHECK ("]
        {
            assert_eq!(check_on_status(without), None, "{without}");
        }
    }
}
