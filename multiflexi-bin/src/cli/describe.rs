//! `describe`: every command with its arguments and options as JSON, read from clap's own model
//! of this command line (so it cannot drift from what the parser accepts). The shape follows
//! upstream's: `{ "<command>": { "description", "arguments": {name: …}, "options": {name: …} } }`,
//! each option with `name`, `shortcut`, `is_value_required`, `description`, `default`, plus
//! `aliases`, `is_repeatable`, `possible_values`. Always JSON, whatever `--format` says (as
//! upstream's, whose default is JSON).

use super::output::Report;
use clap::{Arg, ArgAction, Command, CommandFactory};
use serde_json::{Map, Value, json};

/// `describe`.
pub fn describe() -> anyhow::Result<Report> {
    let cli = super::Cli::command();
    // Options every command takes (--format, --verbose, --no-interaction); the database options
    // go before the command name and are not listed per command.
    let globals: Vec<&Arg> = cli
        .get_arguments()
        .filter(|a| a.is_global_set() && !a.is_hide_set())
        .collect();
    let mut out = Map::new();
    for cmd in cli.get_subcommands() {
        if cmd.get_name() == "describe" {
            continue;
        }
        out.insert(cmd.get_name().to_string(), command_json(cmd, &globals));
    }
    let text = serde_json::to_string_pretty(&Value::Object(out))?;
    Ok(Report::raw(text + "\n"))
}

fn command_json(cmd: &Command, globals: &[&Arg]) -> Value {
    let mut arguments = Map::new();
    let mut options = Map::new();
    for arg in cmd.get_arguments().chain(globals.iter().copied()) {
        if arg.is_hide_set() || matches!(arg.get_action(), ArgAction::Help | ArgAction::Version) {
            continue;
        }
        let description = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        let default: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        let default = match default.len() {
            0 => Value::Null,
            1 => json!(default[0]),
            _ => json!(default),
        };
        let takes_value = matches!(arg.get_action(), ArgAction::Set | ArgAction::Append);
        let possible: Vec<String> = arg
            .get_possible_values()
            .iter()
            .map(|p| p.get_name().to_string())
            .collect();
        match arg.get_long() {
            None => {
                let name = arg
                    .get_value_names()
                    .and_then(|v| v.first())
                    .map_or_else(|| arg.get_id().to_string(), |n| n.to_lowercase());
                arguments.insert(
                    name.clone(),
                    json!({
                        "name": name,
                        "is_required": arg.is_required_set(),
                        "description": description,
                        "default": default,
                    }),
                );
            }
            Some(long) => {
                let aliases: Vec<&str> = arg.get_visible_aliases().unwrap_or_default();
                options.insert(
                    long.to_string(),
                    json!({
                        "name": long,
                        "shortcut": arg.get_short().map(|c| c.to_string()),
                        "aliases": aliases,
                        "is_value_required": takes_value,
                        "is_required": arg.is_required_set(),
                        "is_repeatable": matches!(arg.get_action(), ArgAction::Append | ArgAction::Count),
                        "is_global": arg.is_global_set(),
                        "description": description,
                        "default": default,
                        "possible_values": possible,
                    }),
                );
            }
        }
    }
    json!({
        "description": cmd.get_about().map(|a| a.to_string()).unwrap_or_default(),
        "arguments": arguments,
        "options": options,
    })
}
