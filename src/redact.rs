//! Secrets kept out of everything the tool writes. Backend URLs and
//! `exec:` command lines carry credentials (a URL's password, a libpq
//! `password=` word, a query parameter or JSON kwarg named like a secret);
//! consoles, reports and step summaries are published as CI artifacts, so
//! every text that names a backend passes through [`redact`] first. A command
//! printed to be run again gets [`replay_url`] instead: the secret becomes a
//! reference to an environment variable, which the tool reads back.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// What a secret is replaced with.
pub const REDACTED: &str = "***";

/// Names that mark a value as secret: in a query string, a libpq word, a
/// JSON or Python dict key.
const SECRET_NAME: &str = r"[A-Za-z0-9_.\-]*(?:password|passwd|pwd|token|secret|key|auth|credential)[A-Za-z0-9_.\-]*";

/// `scheme://user:PASSWORD@`: the password is what follows the first `:`
/// of the userinfo, up to its last `@` (an unescaped `@` in a password
/// happens); redis URLs often have an empty user: `redis://:pw@h`.
static URL_PASSWORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r##"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#@:'"]*:)(?P<secret>[^\s/?#'"]*)(?P<tail>@)"##).unwrap());

/// `?token=…`, `&password=…` (also `;`-separated).
static QUERY_SECRET: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!(r##"(?i)(?P<head>[?&;]{SECRET_NAME}=)(?P<secret>[^&;\s'"#]*)"##)).unwrap());

/// libpq's `key=value` connection strings: `password=x`, `password='a b'`.
static KEYWORD_SECRET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)(?P<head>(?:^|[\s'"])(?:password|passwd|sslpassword)\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'|[^\s'"]+)"#).unwrap());

/// A JSON or Python dict entry named like a secret: `"api_key": "…"`,
/// `'secret': '…'`.
static KEYED_SECRET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r#"(?i)(?P<head>(?P<q>["']){SECRET_NAME}["']\s*:\s*)(?P<secret>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"#)).unwrap());

/// The same entry inside a JSON string (a command line with a JSON kwarg,
/// written into a JSON report): `\"token\": \"…\"`, where the value's own
/// escapes are escaped again (`\\\"` is a quote in it).
static ESCAPED_KEYED_SECRET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r#"(?i)(?P<head>\\"{SECRET_NAME}\\"\s*:\s*)(?P<secret>\\"(?:\\\\\\"|\\\\|\\[^"\\]|[^"\\])*\\")"#)).unwrap());

/// `text` with every secret it holds replaced by [`REDACTED`].
pub fn redact(text: &str) -> Cow<'_, str> {
    replace(redact_all_but_url_passwords(text), &URL_PASSWORD, replacement)
}

fn redact_all_but_url_passwords(text: &str) -> Cow<'_, str> {
    [&*QUERY_SECRET, &*KEYWORD_SECRET, &*KEYED_SECRET, &*ESCAPED_KEYED_SECRET]
        .into_iter()
        .fold(Cow::Borrowed(text), |text, pattern| replace(text, pattern, replacement))
}

/// `pattern` replaced in `text`, borrowing as long as nothing matched.
fn replace<'t>(text: Cow<'t, str>, pattern: &Regex, with: impl Fn(&Captures) -> String) -> Cow<'t, str> {
    match text {
        Cow::Borrowed(text) => pattern.replace_all(text, with),
        Cow::Owned(text) => Cow::Owned(pattern.replace_all(&text, with).into_owned()),
    }
}

/// The secret's replacement, keeping a quoted value quoted the same way.
fn replacement(caps: &Captures) -> String {
    let secret = &caps["secret"];
    let value = match secret.chars().next() {
        None => String::new(),
        Some(quote @ ('"' | '\'')) => format!("{quote}{REDACTED}{quote}"),
        Some('\\') => format!("\\\"{REDACTED}\\\""),
        Some(_) => REDACTED.to_owned(),
    };
    format!("{}{value}{}", &caps["head"], caps.name("tail").map_or("", |tail| tail.as_str()))
}

/// The environment variable a backend URL's password is read from when the
/// URL has none: the ecosystem's own for PostgreSQL and Redis.
pub fn password_variable(url: &str) -> &'static str {
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    match scheme {
        "postgres" | "postgresql" => "PGPASSWORD",
        s if s.starts_with("redis") || s.starts_with("rediss") => "REDISCLI_AUTH",
        _ => "STATEHARNESS_PASSWORD",
    }
}

/// `url` as a replay line prints it: a password becomes a reference to
/// [`password_variable`] (quoted for a shell by the caller, which must use
/// double quotes or none so that the shell expands it), any other secret is
/// redacted. With no secret, the URL as given.
pub fn replay_url(url: &str) -> Cow<'_, str> {
    let variable = password_variable(url);
    let reference = |caps: &Captures| if caps["secret"].is_empty() { caps[0].to_owned() } else { format!("{}${{{variable}}}@", &caps["head"]) };
    replace(redact_all_but_url_passwords(url), &URL_PASSWORD, reference)
}

/// `word` quoted for a POSIX shell, with every `${NAME}` reference left for
/// the shell to expand (double-quoted) and the rest quoted literally.
pub fn shell_word(word: &str) -> String {
    let mut quoted = String::new();
    let mut rest = word;
    while let Some(found) = ENV_REFERENCE.find(rest) {
        if found.start() > 0 {
            quoted.push_str(&shell_words::quote(&rest[..found.start()]));
        }
        quoted.push_str(&format!("\"{}\"", found.as_str()));
        rest = &rest[found.end()..];
    }
    if !rest.is_empty() || quoted.is_empty() {
        quoted.push_str(&shell_words::quote(rest));
    }
    quoted
}

/// `${NAME}`, as [`replay_url`] writes it.
static ENV_REFERENCE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\$\{[A-Z_][A-Z0-9_]*\}").unwrap());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_redacted_and_the_rest_kept() {
        assert_eq!(redact("postgres://app:s3cret@db/prod?table=t"), "postgres://app:***@db/prod?table=t");
        assert_eq!(redact("could not connect to redis://:hunter2@127.0.0.1:6379/0: refused"), "could not connect to redis://:***@127.0.0.1:6379/0: refused");
        assert_eq!(redact("rediss+cluster://u:p%40ss@h1:7000,h2:7001/?prefix=x"), "rediss+cluster://u:***@h1:7000,h2:7001/?prefix=x");
        assert_eq!(redact("file:///tmp/a:b@c"), "file:///tmp/a:b@c", "a path is not userinfo");
        assert_eq!(redact("postgres://app@db/prod"), "postgres://app@db/prod");
        assert_eq!(redact("postgres://u:p@ss@h/d"), "postgres://u:***@h/d");
        assert_eq!(redact("redis://h:6379/0?prefix=a@b"), "redis://h:6379/0?prefix=a@b");
        assert!(matches!(redact("memory://"), Cow::Borrowed(_)));
    }

    #[test]
    fn query_parameters_named_like_secrets_are_redacted() {
        assert_eq!(redact("redis://h/0?prefix=p&token=abc&db=1"), "redis://h/0?prefix=p&token=***&db=1");
        assert_eq!(redact("postgres://h/db?sslmode=require&PassWord=x"), "postgres://h/db?sslmode=require&PassWord=***");
        assert_eq!(redact("s3://b?access_key_id=AKIA&region=eu"), "s3://b?access_key_id=***&region=eu");
    }

    #[test]
    fn secrets_inside_exec_command_lines_are_redacted() {
        let command = r#"exec:python adapter.py mod:PgBackend --dsn 'host=db user=app password=s3cret dbname=x' --url postgres://a:b@h/d"#;
        assert_eq!(redact(command), r#"exec:python adapter.py mod:PgBackend --dsn 'host=db user=app password=*** dbname=x' --url postgres://a:***@h/d"#);
        assert_eq!(redact("password='two words' host=h"), "password='***' host=h");
        assert_eq!(redact("redis://h/0?token=a@b"), "redis://h/0?token=***");
        let kwargs = r#"exec:python adapter.py mod:B '{"url": "redis://h", "api_key": "k-123", "auth_token": "t\"x"}'"#;
        assert_eq!(redact(kwargs), r#"exec:python adapter.py mod:B '{"url": "redis://h", "api_key": "***", "auth_token": "***"}'"#);
        assert_eq!(redact("{'secret': 'x', 'n': 1}"), "{'secret': '***', 'n': 1}");
    }

    #[test]
    fn secrets_inside_a_json_string_are_redacted() {
        // A command line with a JSON kwarg, itself written into a JSON report.
        let report = r#"{"backend": "exec:py a.py '{\"password\": \"pw1\", \"n\": 2}'"}"#;
        assert_eq!(redact(report), r#"{"backend": "exec:py a.py '{\"password\": \"***\", \"n\": 2}'"}"#);
    }

    #[test]
    fn replay_urls_reference_the_environment() {
        assert_eq!(replay_url("postgres://app:s3cret@db/prod"), "postgres://app:${PGPASSWORD}@db/prod");
        assert_eq!(replay_url("redis://:pw@h:6379/0?prefix=p"), "redis://:${REDISCLI_AUTH}@h:6379/0?prefix=p");
        assert_eq!(replay_url("redis://h/0?token=x"), "redis://h/0?token=***");
        assert_eq!(replay_url("memory://"), "memory://");
        assert_eq!(replay_url("postgres://app:***@db/prod"), "postgres://app:${PGPASSWORD}@db/prod", "a redacted URL too");
    }

    #[test]
    fn shell_words_expand_only_the_references() {
        assert_eq!(shell_word("postgres://app:${PGPASSWORD}@db/prod"), r#"postgres://app:"${PGPASSWORD}"@db/prod"#);
        assert_eq!(shell_word("$HOME"), "'$HOME'");
        assert_eq!(shell_word(""), "''");
        let line = ["conform", "--backend", "redis://:${REDISCLI_AUTH}@h/0", "exec:py a.py 'x' \"y\""].map(shell_word).join(" ");
        let output = std::process::Command::new("sh").arg("-c").arg(format!("printf '%s\\n' {line}")).env("REDISCLI_AUTH", "pw").output().unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), "conform\n--backend\nredis://:pw@h/0\nexec:py a.py 'x' \"y\"\n");
    }
}
