//! New passwords for the CLI: typed twice at a prompt, or piped in with
//! `--password-stdin`. Never from the command line, where `ps` and the
//! shell history would show them.

use std::io::{BufRead, IsTerminal};

use anyhow::{anyhow, ensure};
use clap::Args;
use plantdb_auth_core::password::MAX_PASSWORD_BYTES;

#[derive(Debug, Clone, Args)]
pub struct PasswordSource {
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
}

pub fn read_new_password(source: &PasswordSource) -> anyhow::Result<String> {
    if source.password_stdin {
        return first_line(std::io::stdin().lock());
    }
    if !std::io::stdin().is_terminal() {
        return Err(anyhow!(
            "no terminal to ask for the password\nhint: pipe it in with --password-stdin (passwords are never taken from the command line)"
        ));
    }
    let first = rpassword::prompt_password("New password: ")?;
    let again = rpassword::prompt_password("Repeat it: ")?;
    ensure!(
        first == again,
        "the two passwords differ: nothing was changed"
    );
    Ok(first)
}

/// The first line without its line ending. The length bound keeps a
/// mistaken `< bigfile` from being read whole.
fn first_line(input: impl BufRead) -> anyhow::Result<String> {
    let mut line = String::new();
    let limit = (MAX_PASSWORD_BYTES + 2) as u64;
    input
        .take(limit)
        .read_line(&mut line)
        .map_err(|e| anyhow!("cannot read the password from standard input: {e}"))?;
    let password = line
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(&line);
    ensure!(
        !password.is_empty(),
        "no password on standard input\nhint: echo the password into the command, e.g. `printf '%s\\n' \"$PW\" | plantdb-auth user passwd NAME --password-stdin`"
    );
    Ok(password.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_is_the_password() {
        assert_eq!(
            first_line(&b"s3cret pass\nnext\n"[..]).unwrap(),
            "s3cret pass"
        );
        assert_eq!(first_line(&b"crlf\r\n"[..]).unwrap(), "crlf");
        assert_eq!(first_line(&b"no newline"[..]).unwrap(), "no newline");
        assert!(first_line(&b"\n"[..]).is_err());
        assert!(first_line(&b""[..]).is_err());
    }
}
