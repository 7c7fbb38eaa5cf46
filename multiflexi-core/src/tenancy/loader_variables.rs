//! Environment variables that change how a program loads code: a value in one of them runs
//! the setter's code inside any app. Refused in every environment layer a user writes unless
//! the app's definition declares the field (then the app's author asked for it).

/// One family of loader variables: how its members are recognised and why they are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoaderFamily {
    /// What the family controls, as the refusal says it.
    pub what: &'static str,
    /// Exact names.
    pub names: &'static [&'static str],
    /// Name prefixes (every name starting with one belongs to the family).
    pub prefixes: &'static [&'static str],
}

/// The documented deny list (README "Security"), one row per family.
pub const LOADER_FAMILIES: &[LoaderFamily] = &[
    LoaderFamily {
        what: "the dynamic linker (libraries loaded into every program)",
        names: &[],
        prefixes: &["LD_", "DYLD_"],
    },
    LoaderFamily {
        what: "where programs are looked up",
        names: &["PATH"],
        prefixes: &[],
    },
    LoaderFamily {
        what: "Python's start-up (modules and code run before the program)",
        names: &[
            "PYTHONPATH",
            "PYTHONSTARTUP",
            "PYTHONHOME",
            "PYTHONUSERBASE",
            "PYTHONEXECUTABLE",
            "PYTHONINSPECT",
            "PYTHONBREAKPOINT",
            "PYTHONWARNINGS",
            "PYTHONPLATLIBDIR",
            "PYTHONSAFEPATH",
        ],
        prefixes: &[],
    },
    LoaderFamily {
        what: "Perl's start-up (options and library paths)",
        names: &[
            "PERL5OPT",
            "PERL5LIB",
            "PERLLIB",
            "PERL5DB",
            "PERL_MB_OPT",
            "PERL_MM_OPT",
        ],
        prefixes: &[],
    },
    LoaderFamily {
        what: "Ruby's start-up (options and library paths)",
        names: &[
            "RUBYOPT",
            "RUBYLIB",
            "RUBYPATH",
            "GEM_HOME",
            "GEM_PATH",
            "BUNDLE_GEMFILE",
        ],
        prefixes: &[],
    },
    LoaderFamily {
        what: "Node.js's start-up (options, preloaded modules, module paths)",
        names: &["NODE_OPTIONS", "NODE_PATH", "NODE_REPL_EXTERNAL_MODULE"],
        prefixes: &[],
    },
    LoaderFamily {
        what: "PHP's configuration (php.ini, auto_prepend_file)",
        names: &["PHPRC", "PHP_INI_SCAN_DIR"],
        prefixes: &[],
    },
    LoaderFamily {
        what: "shell start-up files and functions",
        names: &[
            "BASH_ENV",
            "ENV",
            "SHELLOPTS",
            "BASHOPTS",
            "PS4",
            "PROMPT_COMMAND",
            "IFS",
            "CDPATH",
            "GLOBIGNORE",
            "ZDOTDIR",
        ],
        prefixes: &["BASH_FUNC_"],
    },
    LoaderFamily {
        what: "Java's start-up options",
        names: &[
            "JAVA_TOOL_OPTIONS",
            "_JAVA_OPTIONS",
            "JDK_JAVA_OPTIONS",
            "CLASSPATH",
        ],
        prefixes: &[],
    },
    LoaderFamily {
        what: "git's hooks, configuration and helper programs",
        names: &[],
        prefixes: &["GIT_"],
    },
    LoaderFamily {
        what: "the C library (glibc refuses these in setuid programs for the same reason)",
        names: &[
            "GCONV_PATH",
            "GETCONF_DIR",
            "GLIBC_TUNABLES",
            "HOSTALIASES",
            "LOCALDOMAIN",
            "LOCPATH",
            "MALLOC_TRACE",
            "NIS_PATH",
            "NLSPATH",
            "RESOLV_HOST_CONF",
            "RES_OPTIONS",
            "TMPDIR",
            "TZDIR",
        ],
        prefixes: &[],
    },
    LoaderFamily {
        what: "helper programs and modules other tools run",
        names: &[
            "OPENSSL_CONF",
            "OPENSSL_ENGINES",
            "OPENSSL_MODULES",
            "SSH_ASKPASS",
            "EDITOR",
            "VISUAL",
            "PAGER",
            "BROWSER",
            "LESSOPEN",
            "LESSCLOSE",
        ],
        prefixes: &[],
    },
];

/// The family `name` belongs to, when it is a loader variable (case-sensitive, as the
/// environment is).
pub fn loader_family(name: &str) -> Option<&'static LoaderFamily> {
    LOADER_FAMILIES
        .iter()
        .find(|f| f.names.contains(&name) || f.prefixes.iter().any(|p| name.starts_with(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_cover_the_documented_names() {
        for name in [
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "LD_AUDIT",
            "DYLD_INSERT_LIBRARIES",
            "PATH",
            "PYTHONPATH",
            "PYTHONSTARTUP",
            "PERL5OPT",
            "RUBYOPT",
            "NODE_OPTIONS",
            "PHPRC",
            "BASH_ENV",
            "ENV",
            "BASH_FUNC_ls%%",
            "JAVA_TOOL_OPTIONS",
            "GIT_SSH_COMMAND",
            "GIT_CONFIG_GLOBAL",
            "GCONV_PATH",
        ] {
            assert!(loader_family(name).is_some(), "{name} must be refused");
        }
    }

    #[test]
    fn ordinary_and_near_miss_names_pass() {
        for name in [
            "ABRAFLEXI_URL",
            "DB_PASSWORD",
            "MY_PATH",
            "PATHS",
            "path",
            "ld_preload",
            "XLD_PRELOAD",
            "ENVIRONMENT",
            "GITHUB_TOKEN",
            "NODE_ENV",
        ] {
            assert!(loader_family(name).is_none(), "{name} must pass");
        }
    }
}
