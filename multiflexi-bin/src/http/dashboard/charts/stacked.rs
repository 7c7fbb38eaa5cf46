//! Stacked columns of counts (outcomes by exit-code class per day, or per hour).

use super::frame::{Frame, Meta, chart, n};
use maud::{Markup, html};

/// One part of a column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Part {
    /// Its colour (a badge class).
    pub class: &'static str,
    /// What it counts (`success`, `failed`).
    pub name: String,
    /// How many.
    pub count: u64,
}

/// One column: a category and its parts, bottom to top.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    /// The category (a day, an hour).
    pub label: String,
    /// Its parts.
    pub parts: Vec<Part>,
}

/// A stacked column chart of `columns`, left to right.
pub(crate) fn stacked_chart(meta: Meta<'_>, columns: &[Column]) -> Markup {
    let total = |c: &Column| c.parts.iter().map(|p| p.count).sum::<u64>();
    let max = columns.iter().map(total).max().unwrap_or(0) as f64;
    let f = Frame::new(columns.len(), max);
    let w = (f.slot() * 0.8).max(1.0);
    let labels: Vec<String> = columns.iter().map(|c| c.label.clone()).collect();
    // Each part with the count of the parts below it.
    let stacked = |c: &'_ Column| -> Vec<(u64, Part)> {
        let mut below = 0;
        let mut out = Vec::new();
        for p in &c.parts {
            if p.count > 0 {
                out.push((below, p.clone()));
            }
            below += p.count;
        }
        out
    };
    let marks = html! {
        @for (i, c) in columns.iter().enumerate() {
            g data-column=(c.label) data-total=(total(c)) {
                @for (below, p) in stacked(c) {
                    rect class=(p.class) data-count=(p.count)
                        x=(n(f.x(i) + (f.slot() - w) / 2.0)) y=(n(f.y((below + p.count) as f64)))
                        width=(n(w)) height=(n(f.y(below as f64) - f.y((below + p.count) as f64))) {
                        title { (c.label) ": " (p.count) " " (p.name) }
                    }
                }
            }
        }
    };
    chart(meta, f, &labels, None, marks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_stack_without_gaps_and_zero_parts_draw_nothing() {
        let parts = |s: u64, f: u64| {
            vec![
                Part {
                    class: "bg-success",
                    name: "success".into(),
                    count: s,
                },
                Part {
                    class: "bg-danger",
                    name: "failed".into(),
                    count: f,
                },
            ]
        };
        let cols = [
            Column {
                label: "01-05".into(),
                parts: parts(3, 1),
            },
            Column {
                label: "01-06".into(),
                parts: parts(0, 2),
            },
        ];
        let meta = Meta {
            id: "o",
            title: "Outcomes",
            desc: "d",
            unit: "jobs",
        };
        let svg = stacked_chart(meta, &cols).into_string();
        assert_eq!(svg.matches("<rect ").count(), 3, "{svg}");
        assert!(svg.contains("data-total=\"4\""));
        assert!(svg.contains("<title>01-05: 1 failed</title>"));
        let f = Frame::new(2, 4.0);
        // The failed part of the first column sits right on the success part.
        let top_of_success = n(f.y(3.0));
        assert!(
            svg.contains(&format!("y=\"{}\"", n(f.y(4.0))))
                && svg.contains(&format!("y=\"{top_of_success}\"")),
            "{svg}"
        );
        assert!(svg.contains("class=\"bg-danger\""));
    }
}
