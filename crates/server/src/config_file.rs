//! The configuration file: TOML, one key per `serve` flag (`port = 5000`,
//! `max-failed-attempts = 5` or `max_failed_attempts = 5`). Its values
//! become the flags' defaults, so the precedence is: flags, then
//! environment variables, then the file, then the built-in defaults.
//!
//! Which file: `--config FILE` or `PLANTDB_CONFIG` (it must exist), else
//! the first of `$XDG_CONFIG_HOME/plantdb-auth/config.toml` (or
//! `~/.config/...`) and `/etc/plantdb-auth/config.toml` that exists.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

/// The environment variable naming the file.
pub const CONFIG_ENV: &str = "PLANTDB_CONFIG";

/// Settings whose values are never printed.
const SECRET_ARGS: [&str; 2] = ["store", "metrics_token"];

/// The subcommands that read the file: `serve` and `config check`.
fn target(args: &[OsString]) -> Option<Vec<&'static str>> {
    match (
        args.get(1).and_then(|a| a.to_str()),
        args.get(2).and_then(|a| a.to_str()),
    ) {
        (Some("serve"), _) => Some(vec!["serve"]),
        (Some("config"), Some("check")) => Some(vec!["config", "check"]),
        _ => None,
    }
}

/// `--config X` or `--config=X` on the command line.
fn given_on_command_line(args: &[OsString]) -> Option<PathBuf> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let text = arg.to_string_lossy();
        if text == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(path) = text.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    None
}

fn searched() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(dir) = config_home {
        paths.push(dir.join("plantdb-auth").join("config.toml"));
    }
    paths.push(PathBuf::from("/etc/plantdb-auth/config.toml"));
    paths
}

/// The file to read, if any; one named explicitly must exist.
pub fn locate(args: &[OsString]) -> anyhow::Result<Option<PathBuf>> {
    let named = given_on_command_line(args).or_else(|| {
        std::env::var_os(CONFIG_ENV)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    });
    match named {
        Some(path) if path.is_file() => Ok(Some(path)),
        Some(path) => bail!(
            "the configuration file {} (--config or {CONFIG_ENV}) does not exist or is not a file",
            path.display()
        ),
        None => Ok(searched().into_iter().find(|p| p.is_file())),
    }
}

/// One value as clap reads it from the command line.
fn values(key: &str, value: &toml::Value, file: &Path) -> anyhow::Result<Vec<String>> {
    Ok(match value {
        toml::Value::String(s) => vec![s.clone()],
        toml::Value::Integer(i) => vec![i.to_string()],
        toml::Value::Float(f) => vec![f.to_string()],
        toml::Value::Boolean(b) => vec![b.to_string()],
        toml::Value::Array(items) => items
            .iter()
            .map(|v| match v {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(i) => Ok(i.to_string()),
                _ => bail!("{}: '{key}' must be a list of strings", file.display()),
            })
            .collect::<anyhow::Result<_>>()?,
        _ => bail!(
            "{}: '{key}' must be a string, a number, a boolean or a list (tables are not settings)",
            file.display()
        ),
    })
}

/// Reads the file (if any) and makes its values the defaults of the
/// target subcommand's flags. Unknown keys and wrong types are errors that
/// name the file and the key.
pub fn apply(cmd: Command, args: &[OsString]) -> anyhow::Result<(Command, Option<PathBuf>)> {
    let Some(path) = target(args) else {
        return Ok((cmd, None));
    };
    let Some(file) = locate(args)? else {
        return Ok((cmd, None));
    };
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read the configuration file {}", file.display()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        anyhow::anyhow!("{} is not valid TOML: {}", file.display(), e.message())
    })?;
    // Looked up unbuilt: building here would freeze settings the parse
    // below derives again (an argument's value count, among others).
    let mut sub = &cmd;
    for name in &path {
        sub = sub
            .find_subcommand(name)
            .with_context(|| format!("internal: no '{name}' subcommand"))?;
    }
    let mut defaults: Vec<(String, Vec<String>)> = Vec::new();
    for (key, value) in &table {
        let long = key.replace('_', "-");
        let arg = sub
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()) && long != "config")
            .with_context(|| {
                format!(
                    "{}: unknown setting '{key}': the keys are the long names of `plantdb-auth serve --help` (e.g. port, db, max-failed-attempts)",
                    file.display()
                )
            })?;
        defaults.push((arg.get_id().to_string(), values(key, value, &file)?));
    }
    let set = |mut sub: Command| {
        for (id, vals) in &defaults {
            sub = sub.mut_arg(id.as_str(), |a| match vals.as_slice() {
                [one] => a.default_value(one.clone()),
                many => a.default_values(many.iter().cloned()),
            });
        }
        sub
    };
    let cmd = match path.as_slice() {
        ["serve"] => cmd.mut_subcommand("serve", set),
        _ => cmd.mut_subcommand("config", |c| c.mut_subcommand("check", set)),
    };
    Ok((cmd, Some(file)))
}

/// The effective settings of `config check`, as TOML, each with where it
/// came from; secrets redacted.
pub fn describe(cmd: &Command, matches: &ArgMatches, file: Option<&Path>) -> String {
    let mut out = String::new();
    out.push_str(&match file {
        Some(f) => format!("# configuration file: {}\n", f.display()),
        None => "# no configuration file\n".to_string(),
    });
    let builtin = default_values();
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        let Some(long) = arg.get_long() else { continue };
        if matches!(id, "config" | "help") {
            continue;
        }
        let raw: Vec<String> = matches
            .get_raw(id)
            .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let source = match matches.value_source(id) {
            Some(ValueSource::CommandLine) => "command line",
            Some(ValueSource::EnvVariable) => "environment",
            Some(ValueSource::DefaultValue) => {
                // A switch's built-in default (`false`) is added at parse time.
                let is_builtin = match builtin.get(id) {
                    Some(d) if !d.is_empty() => d == &raw,
                    _ => raw == ["false"],
                };
                if is_builtin {
                    "default"
                } else {
                    "configuration file"
                }
            }
            _ => "unset",
        };
        let shown = if raw.is_empty() {
            "# unset".to_string()
        } else if SECRET_ARGS.contains(&id) {
            "\"<redacted>\"".to_string()
        } else if raw.len() == 1 {
            toml::Value::String(raw[0].clone()).to_string()
        } else {
            toml::Value::Array(raw.into_iter().map(toml::Value::String).collect()).to_string()
        };
        let line = if shown.starts_with('#') {
            format!("# {long}: unset\n")
        } else {
            format!("{long} = {shown}  # {source}\n")
        };
        out.push_str(&line);
    }
    for (name, what) in [
        (crate::secrets::JWT_SECRET_KEY, "signing secret"),
        (crate::secrets::ADMIN_PASSWORD, "first admin password"),
    ] {
        let set = std::env::var_os(name).is_some_and(|v| !v.is_empty())
            || std::env::var_os(format!("{name}_FILE")).is_some_and(|v| !v.is_empty());
        out.push_str(&format!(
            "# {name} ({what}): {}\n",
            if set { "set (not shown)" } else { "unset" }
        ));
    }
    out
}

/// The built-in defaults of `serve`, to tell them from the file's.
fn default_values() -> std::collections::HashMap<String, Vec<String>> {
    use clap::Args;
    let cmd = crate::settings::ServeArgs::augment_args(Command::new("serve"));
    cmd.get_arguments()
        .map(|a| {
            let vals = a
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            (a.get_id().to_string(), vals)
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    fn argv(items: &[&str]) -> Vec<OsString> {
        items.iter().map(OsString::from).collect()
    }

    fn parse(file_text: &str, extra: &[&str]) -> anyhow::Result<crate::settings::ServeArgs> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, file_text).unwrap();
        let mut args = argv(&["plantdb-auth", "serve", "--config", file.to_str().unwrap()]);
        args.extend(argv(extra));
        let (cmd, _) = apply(crate::cli::Cli::command(), &args)?;
        let matches = cmd.try_get_matches_from(&args)?;
        let cli = crate::cli::Cli::from_arg_matches(&matches)?;
        match cli.command {
            crate::cli::Command::Serve(serve) => Ok(*serve),
            _ => bail!("not serve"),
        }
    }

    #[test]
    fn file_values_are_defaults_that_flags_override() {
        let args = parse(
            "port = 6001\nmax_failed_attempts = 7\nproxy = [\"10.0.0.0/8\"]\nrestrict-username-check = true\n",
            &["--port", "6002"],
        )
        .unwrap();
        assert_eq!(args.port, 6002, "the flag wins");
        assert_eq!(args.max_failed_attempts, 7);
        assert!(args.restrict_username_check);
        assert_eq!(args.proxy, Some(vec!["10.0.0.0/8".to_string()]));
    }

    #[test]
    fn unknown_keys_and_bad_files_are_named() {
        let err = parse("prot = 1\n", &[]).unwrap_err().to_string();
        assert!(err.contains("unknown setting 'prot'"), "{err}");
        let err = parse("port = \n", &[]).unwrap_err().to_string();
        assert!(err.contains("not valid TOML"), "{err}");
        let err = parse("[server]\nport = 1\n", &[]).unwrap_err().to_string();
        assert!(err.contains("'server'"), "{err}");
        let missing = argv(&[
            "plantdb-auth",
            "serve",
            "--config",
            "/nonexistent/plantdb.toml",
        ]);
        let err = locate(&missing).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/plantdb.toml"), "{err}");
    }
}
