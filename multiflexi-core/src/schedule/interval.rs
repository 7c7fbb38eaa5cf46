use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// MultiFlexi's interval codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum IntervalCode {
    /// `i`: every minute, `* * * * *`.
    #[serde(rename = "i")]
    Minutely,
    /// `h`: hourly, `0 * * * *`.
    #[serde(rename = "h")]
    Hourly,
    /// `d`: daily, `0 0 * * *`.
    #[serde(rename = "d")]
    Daily,
    /// `w`: weekly on Monday, `0 0 * * 1`.
    #[serde(rename = "w")]
    Weekly,
    /// `m`: monthly on the 1st, `0 0 1 * *`.
    #[serde(rename = "m")]
    Monthly,
    /// `y`: yearly on 1 January, `0 0 1 1 *`.
    #[serde(rename = "y")]
    Yearly,
    /// `n`: disabled (run only on demand).
    #[default]
    #[serde(rename = "n")]
    Disabled,
    /// `c`: the template's custom cron expression.
    #[serde(rename = "c")]
    Custom,
}

impl IntervalCode {
    /// Every code.
    pub const ALL: [IntervalCode; 8] = [
        IntervalCode::Minutely,
        IntervalCode::Hourly,
        IntervalCode::Daily,
        IntervalCode::Weekly,
        IntervalCode::Monthly,
        IntervalCode::Yearly,
        IntervalCode::Disabled,
        IntervalCode::Custom,
    ];

    /// The one-letter code.
    pub fn code(self) -> char {
        match self {
            IntervalCode::Minutely => 'i',
            IntervalCode::Hourly => 'h',
            IntervalCode::Daily => 'd',
            IntervalCode::Weekly => 'w',
            IntervalCode::Monthly => 'm',
            IntervalCode::Yearly => 'y',
            IntervalCode::Disabled => 'n',
            IntervalCode::Custom => 'c',
        }
    }

    /// The cron expression the code stands for (`None` for `n` and `c`).
    pub fn cron(self) -> Option<&'static str> {
        match self {
            IntervalCode::Minutely => Some("* * * * *"),
            IntervalCode::Hourly => Some("0 * * * *"),
            IntervalCode::Daily => Some("0 0 * * *"),
            IntervalCode::Weekly => Some("0 0 * * 1"),
            IntervalCode::Monthly => Some("0 0 1 * *"),
            IntervalCode::Yearly => Some("0 0 1 1 *"),
            IntervalCode::Disabled | IntervalCode::Custom => None,
        }
    }

    /// In words.
    pub fn describe(self) -> &'static str {
        match self {
            IntervalCode::Minutely => "every minute",
            IntervalCode::Hourly => "hourly",
            IntervalCode::Daily => "daily at midnight",
            IntervalCode::Weekly => "weekly on Monday at midnight",
            IntervalCode::Monthly => "monthly on the 1st at midnight",
            IntervalCode::Yearly => "yearly on 1 January at midnight",
            IntervalCode::Disabled => "disabled (on demand only)",
            IntervalCode::Custom => "custom cron",
        }
    }
}

impl fmt::Display for IntervalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl FromStr for IntervalCode {
    type Err = crate::Error;
    /// One letter (`i h d w m y n c`); the words `minutely hourly daily weekly monthly yearly
    /// disabled custom` are accepted too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let found = match t {
            "i" | "minutely" => Some(IntervalCode::Minutely),
            "h" | "hourly" => Some(IntervalCode::Hourly),
            "d" | "daily" => Some(IntervalCode::Daily),
            "w" | "weekly" => Some(IntervalCode::Weekly),
            "m" | "monthly" => Some(IntervalCode::Monthly),
            "y" | "yearly" => Some(IntervalCode::Yearly),
            "n" | "disabled" => Some(IntervalCode::Disabled),
            "c" | "custom" => Some(IntervalCode::Custom),
            _ => None,
        };
        found.ok_or_else(|| {
            crate::Error::invalid(
                "interv",
                format!(
                    "{s:?} is not an interval code; allowed: i (minutely), h (hourly), d (daily), w (weekly), m (monthly), y (yearly), n (disabled), c (custom cron)"
                ),
            )
        })
    }
}
