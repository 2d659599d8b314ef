//! Small text helpers for what the tool prints: long texts cut to a
//! readable length, run ids quoted and shortened.

/// `text` cut to a readable length for a report, with its full length.
pub fn cut(text: &str) -> String {
    const WIDTH: usize = 120;
    if text.chars().count() <= WIDTH {
        text.to_owned()
    } else {
        format!("{}… ({} chars)", text.chars().take(WIDTH).collect::<String>(), text.chars().count())
    }
}

/// A run id for a message: quoted and escaped; a long one shortened to its
/// head and tail, with its length.
pub fn show_run_id(run_id: &str) -> String {
    const HEAD: usize = 40;
    let length = run_id.chars().count();
    if length <= 2 * HEAD {
        format!("{run_id:?}")
    } else {
        let head: String = run_id.chars().take(HEAD).collect();
        let tail: String = run_id.chars().skip(length - 8).collect();
        format!("{:?}…{:?} ({length} chars)", head, tail)
    }
}
