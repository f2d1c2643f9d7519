//! README cannot rot: every `$ wgbert ...` line in its ```console blocks is run here, and each
//! output line shown under it must appear in what the command prints.

use crate::common;
use std::process::Command;

/// Splits a command line on spaces, honouring "double quotes".
fn split_args(line: &str) -> Vec<String> {
    let (mut args, mut cur, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    args.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            _ => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        args.push(cur);
    }
    args
}

#[test]
fn every_readme_command_runs_as_shown() {
    common::minilm_dir();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut commands: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_console = false;
    for line in readme.lines() {
        if line.starts_with("```console") {
            in_console = true;
        } else if line.starts_with("```") {
            in_console = false;
        } else if in_console {
            if let Some(cmd) = line.strip_prefix("$ ") {
                commands.push((cmd.to_string(), Vec::new()));
            } else if let Some((_, out)) = commands.last_mut() {
                out.push(line.to_string());
            }
        }
    }
    assert!(
        commands.len() >= 7,
        "README lost its tour: {} commands",
        commands.len()
    );
    for (cmd, expected) in &commands {
        let args = split_args(cmd);
        assert_eq!(args[0], "wgbert", "README console lines run wgbert: {cmd}");
        let o = Command::new(env!("CARGO_BIN_EXE_wgbert"))
            .args(&args[1..])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("NODEVICE_SELECT", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "`{cmd}` failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        for want in expected.iter().filter(|l| !l.trim().is_empty()) {
            assert!(
                stdout.lines().any(|l| l.trim_end() == want.trim_end()),
                "`{cmd}` did not print\n{want}\nit printed:\n{stdout}"
            );
        }
    }
}
