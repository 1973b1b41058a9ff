//! The overview's chart, drawn on the server as SVG numbers for the
//! `chart.html` template: how far each key is into its rotation period
//! (a histogram, so a thousand credentials fit as well as three), and how
//! many rotations started each week lately, the failed ones on top.

use crate::status::Standing;
use crate::store::rotations::{Rotation, State};

/// How many weeks the rotations panel shows.
pub const WEEKS: i64 = 12;
const WEEK: i64 = 7 * 86_400;
const WIDTH: u32 = 760;
const TOP: u32 = 40;
const BASE: u32 = 160;

/// The whole figure.
pub struct Chart {
    pub width: u32,
    pub height: u32,
    pub base: u32,
    pub below: u32,
    pub title: String,
    pub panels: Vec<Panel>,
}

/// One panel of bars.
pub struct Panel {
    pub title: String,
    pub x: u32,
    pub end: u32,
    pub bars: Vec<Bar>,
}

/// One bar, of one or more stacked segments.
pub struct Bar {
    pub label: String,
    pub short: String,
    pub count: usize,
    pub x: u32,
    pub width: u32,
    pub middle: u32,
    pub above: u32,
    pub segments: Vec<Segment>,
}

/// A part of a bar.
pub struct Segment {
    pub y: u32,
    pub height: u32,
    pub class: &'static str,
}

/// The chart of `standings` and the `rotations` started in the last
/// [`WEEKS`] weeks, at `now`.
pub fn chart(standings: &[Standing], rotations: &[Rotation], now: i64) -> Chart {
    let mut ages = [0usize; 5];
    for standing in standings {
        let (Some(age), Some(due_at)) = (standing.age_seconds, standing.due_at) else { continue };
        let period = (due_at - now + age).max(1);
        let bucket = if due_at <= now { 4 } else { ((age * 4 / period) as usize).min(3) };
        ages[bucket] += 1;
    }
    let age_bars = ["0–25%", "25–50%", "50–75%", "75–100%", "overdue"]
        .iter()
        .zip(ages)
        .map(|(short, count)| {
            let (label, class) = match *short {
                "overdue" => (format!("{count} key(s) overdue"), "bad"),
                _ => (format!("{count} key(s) {short} into their period"), "ok"),
            };
            Column { label, short: short.to_string(), parts: vec![(count, class)] }
        })
        .collect();
    let mut weeks = vec![(0usize, 0usize); WEEKS as usize];
    for rotation in rotations {
        let ago = (now - rotation.started_at) / WEEK;
        if (0..WEEKS).contains(&ago) {
            let week = &mut weeks[(WEEKS - 1 - ago) as usize];
            if matches!(rotation.state, State::Failed | State::RolledBack) { week.1 += 1 } else { week.0 += 1 }
        }
    }
    let week_bars = weeks
        .iter()
        .enumerate()
        .map(|(i, (ok, bad))| {
            let starts = now - (WEEKS - i as i64) * WEEK;
            let day =
                chrono::DateTime::from_timestamp(starts, 0).map(|t| t.format("%b %d").to_string()).unwrap_or_default();
            let short = if i % 2 == 1 { day.clone() } else { String::new() };
            let label =
                format!("week from {day}: {ok} rotation(s) succeeded or under way, {bad} failed or rolled back");
            Column { label, short, parts: vec![(*ok, "ok"), (*bad, "bad")] }
        })
        .collect();
    Chart {
        width: WIDTH,
        height: BASE + 30,
        base: BASE,
        below: BASE + 16,
        title: format!("Key ages against their rotation period, and rotations per week over the last {WEEKS} weeks"),
        panels: vec![
            panel("Key age, share of its period", 10, 300, age_bars),
            panel("Rotations per week", 360, 390, week_bars),
        ],
    }
}

/// What one bar shows, before it is scaled.
struct Column {
    label: String,
    short: String,
    /// Its segments, bottom up: a count and its class.
    parts: Vec<(usize, &'static str)>,
}

/// A panel at `x`, `width` wide, of `bars` scaled to the tallest.
fn panel(title: &str, x: u32, width: u32, bars: Vec<Column>) -> Panel {
    let tallest = bars.iter().map(|c| c.parts.iter().map(|(n, _)| n).sum::<usize>()).max().unwrap_or(0).max(1);
    let slot = width / bars.len().max(1) as u32;
    let bar_width = slot * 3 / 4;
    let bars = bars
        .into_iter()
        .enumerate()
        .map(|(i, Column { label, short, parts })| {
            let left = x + i as u32 * slot + (slot - bar_width) / 2;
            let mut top = BASE;
            let segments = parts
                .iter()
                .map(|&(count, class)| {
                    let height = (count as u64 * u64::from(BASE - TOP) / tallest as u64) as u32;
                    top -= height;
                    Segment { y: top, height, class }
                })
                .collect();
            let count = parts.iter().map(|(n, _)| n).sum();
            Bar {
                label,
                short,
                count,
                x: left,
                width: bar_width,
                middle: left + bar_width / 2,
                above: top - 4,
                segments,
            }
        })
        .collect();
    Panel { title: title.into(), x, end: x + width, bars }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(age: i64, due_in: i64) -> Standing {
        Standing {
            name: "c".into(),
            version: Some(1),
            key_id: None,
            age_seconds: Some(age),
            due_at: Some(NOW + due_in),
            due: due_in <= 0,
            last_used_at: None,
            checked_at: None,
            valid: None,
            unused: false,
            last_rotation: None,
            in_progress: None,
            suspected_orphans: vec![],
        }
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn keys_fall_in_the_quarter_of_their_period_they_are_in_or_overdue() {
        let standings = [standing(10, 90), standing(60, 40), standing(99, 1), standing(100, 0), standing(200, -100)];
        let chart = chart(&standings, &[], NOW);
        let counts: Vec<usize> = chart.panels[0].bars.iter().map(|b| b.count).collect();
        assert_eq!(counts, [1, 0, 1, 1, 2]);
        let overdue = &chart.panels[0].bars[4];
        assert_eq!(overdue.segments[0].height, BASE - TOP, "the tallest bar fills the panel");
        assert_eq!(overdue.segments[0].class, "bad");
    }

    #[test]
    fn rotations_are_counted_in_their_week_failed_ones_apart() {
        let rotation = |ago: i64, state: State| Rotation {
            id: "r".into(),
            credential: "c".into(),
            started_at: NOW - ago,
            finished_at: None,
            state,
            emergency: false,
            from_version: None,
            to_version: None,
            revoke_after: None,
            error: None,
        };
        let rotations = [
            rotation(60, State::Succeeded),
            rotation(120, State::Failed),
            rotation(WEEK + 1, State::Grace),
            rotation(WEEKS * WEEK, State::Succeeded),
        ];
        let chart = chart(&[], &rotations, NOW);
        let weeks = &chart.panels[1].bars;
        assert_eq!(weeks.len(), WEEKS as usize);
        let last = &weeks[WEEKS as usize - 1];
        assert_eq!((last.count, last.segments[0].height, last.segments[1].height), (2, 60, 60));
        assert_eq!(weeks[WEEKS as usize - 2].count, 1);
        assert_eq!(weeks.iter().map(|w| w.count).sum::<usize>(), 3, "a rotation older than the panel is left out");
    }
}
