//! A change as a unified diff a reviewer reads: recorded lines `-`, new
//! lines `+`, three lines of context, coloured on request only (so that CI
//! logs and diff files stay plain text).

use console::Style;
use similar::{ChangeTag, TextDiff};

use super::store::{Change, ChangeKind};

/// Lines of context around each change.
const CONTEXT: usize = 3;

/// The unified diff of `change`, from `NAME.snap` to `NAME.snap.new`;
/// with `color`, removed lines red, added lines green, hunk headers cyan.
pub fn unified_diff(change: &Change, color: bool) -> String {
    let paint = |style: Style, text: &str| if color { style.apply_to(text).force_styling(true).to_string() } else { text.to_owned() };
    let (old, new) = (with_newline(&change.old), with_newline(&change.new));
    let old_label = if change.kind == ChangeKind::Added { "(nothing recorded)".to_owned() } else { format!("{}.snap", change.name) };
    let new_label = if change.kind == ChangeKind::Removed { "(no longer recorded)".to_owned() } else { format!("{}.snap.new", change.name) };
    let mut out = paint(Style::new().bold(), &format!("--- {old_label}\n+++ {new_label}\n"));
    let diff = TextDiff::from_lines(&old, &new);
    let mut unified = diff.unified_diff();
    unified.context_radius(CONTEXT);
    for hunk in unified.iter_hunks() {
        out.push_str(&paint(Style::new().cyan(), &format!("{}\n", hunk.header())));
        for line in hunk.iter_changes() {
            let (sign, style) = match line.tag() {
                ChangeTag::Delete => ('-', Style::new().red()),
                ChangeTag::Insert => ('+', Style::new().green()),
                ChangeTag::Equal => (' ', Style::new()),
            };
            let text = format!("{sign}{}", line.value().trim_end_matches('\n'));
            out.push_str(&if line.tag() == ChangeTag::Equal { text } else { paint(style, &text) });
            out.push('\n');
        }
    }
    out
}

/// A body as diffable lines: every line ends in a newline (a body has no
/// trailing whitespace), so the last line never reads as changed.
fn with_newline(body: &str) -> String {
    if body.is_empty() { String::new() } else { format!("{body}\n") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_coloured() {
        let change = Change { name: "run-1".into(), kind: ChangeKind::Changed, old: "a\nb\nc".into(), new: "a\nB\nc".into() };
        assert_eq!(unified_diff(&change, false), "--- run-1.snap\n+++ run-1.snap.new\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
        let coloured = unified_diff(&change, true);
        assert!(coloured.contains("\u{1b}[31m-b\u{1b}[0m") && coloured.contains("\u{1b}[32m+B\u{1b}[0m"), "{coloured:?}");
        let removed = Change { kind: ChangeKind::Removed, new: String::new(), ..change };
        assert_eq!(unified_diff(&removed, false), "--- run-1.snap\n+++ (no longer recorded)\n@@ -1,3 +0,0 @@\n-a\n-b\n-c\n");
    }
}
