//! The report's photos as the page's table shows them (and the HTML report's, which writes the
//! same cells): each photo's cells, and the photos that match a filter, sorted by a column, as
//! many as the table shows. Only those are put in order and written out: the page draws the
//! table again after every batch of a folder of tens of thousands.

use std::cmp::Ordering;

use xai_files::Labels;

use crate::{counted, first_in_order, Photo, Report};

/// The table's columns.
pub const COLUMNS: [&str; 5] = ["photo", "true class", "first choice", "probability", "right"];

/// The most rows the table draws: the rest are a filter or a sort away.
pub const ROWS_SHOWN: usize = 200;

/// How many photos match the filter, and how many of them the table shows.
pub fn matching_text(matching: usize) -> String {
    let shown = if matching > ROWS_SHOWN { format!(", the first {ROWS_SHOWN} shown") } else { String::new() };
    format!("{}{shown}", counted(matching, "photo", "photos"))
}

/// A label as the report writes it, spaces for underscores.
pub fn shown_label(label: &str) -> String {
    label.replace('_', " ")
}

/// A class's name as the report writes it, told apart from another of the same name.
pub fn class_name(labels: &Labels, class: usize) -> String {
    shown_label(&labels.distinct_name(class).unwrap_or_else(|| "?".into()))
}

/// A photo's cells, as text (the filter reads them).
pub fn cells(photo: &Photo, labels: &Labels) -> [String; 5] {
    let first = photo.predicted();
    [
        photo.path.clone(),
        photo.truth.map_or(String::new(), |c| class_name(labels, c)),
        first.map_or(String::new(), |p| class_name(labels, p.class)),
        first.map_or(String::new(), |p| format!("{:.4}", p.prob)),
        photo.right().map_or(String::new(), |r| if r { "yes" } else { "no" }.into()),
    ]
}

/// How many photos read match `filter` (in any cell, whatever the case), and the first `shown`
/// of them sorted by `column` (reversed: the other way). Ties keep the order the photos came in.
pub fn shown_rows<'a>(
    report: &'a Report,
    labels: &Labels,
    filter: &str,
    column: usize,
    reversed: bool,
    shown: usize,
) -> (usize, Vec<&'a Photo>) {
    let wanted = filter.to_lowercase();
    let rows: Vec<&Photo> = report
        .photos
        .iter()
        .map(|p| p.as_ref())
        .filter(|p| p.error.is_none())
        .filter(|p| wanted.is_empty() || cells(p, labels).iter().any(|c| c.to_lowercase().contains(&wanted)))
        .collect();
    let first = first_in_order(rows.len(), shown, &|i, j| {
        let order = column_order(rows[i], rows[j], column, labels);
        if reversed { order.reverse() } else { order }.then(i.cmp(&j))
    });
    (rows.len(), first.into_iter().map(|i| rows[i]).collect())
}

/// How two photos compare in a column, nothing written out: as the cells read (class names with
/// spaces for underscores, numbers as numbers and before text, so that the order is total), the
/// probability by its value (not its four digits shown), and "right" as no before yes.
fn column_order(a: &Photo, b: &Photo, column: usize, labels: &Labels) -> Ordering {
    let name = |photo| class_cell(photo, column, labels);
    let shown = |photo| name(photo).chars().map(|c| if c == '_' { ' ' } else { c });
    let probability = |photo: &Photo| photo.predicted().map(|p| p.prob);
    match column {
        0 => a.path.cmp(&b.path),
        3 => match (probability(a), probability(b)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (x, y) => x.is_some().cmp(&y.is_some()),
        },
        4 => a.right().cmp(&b.right()),
        _ => match (name(a).parse::<f64>(), name(b).parse::<f64>()) {
            (Ok(x), Ok(y)) => x.total_cmp(&y),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            _ => shown(a).cmp(shown(b)),
        },
    }
}

/// The true class's name (column 1) or the first choice's, as the labels spell it.
fn class_cell<'a>(photo: &'a Photo, column: usize, labels: &'a Labels) -> &'a str {
    match column {
        1 => photo.truth.map_or("", |c| labels.name(c).unwrap_or("?")),
        _ => photo.predicted().map_or("", |p| p.label.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xai_files::Prediction;

    /// 300 photos (more than the 50 shown) of 7 classes named as people name them: with
    /// underscores (shown as spaces, which sorts "kind_b" before "kind-a"), capitals, numbers
    /// ("2" before "10", both before "1080p", a cycle if only pairs of numbers were numbers);
    /// some of a class the labels lack, some not read, one with a probability
    /// that is not a number, the others' repeating.
    fn report() -> (Report, Labels) {
        let names = ["1080p", "kind-a", "10", "2", "kind_b", "Kind C", "kind_d"].map(String::from);
        let labels = Labels::from_json(serde_json::to_string(&names).unwrap().as_bytes()).unwrap();
        let mut report = Report::default();
        for i in 0..300usize {
            let first = i * 3 % 7;
            let prob = if i == 42 { f32::NAN } else { (i % 11) as f32 / 10.0 };
            let top5 = vec![Prediction { class: first, label: names[first].clone(), prob }];
            let error = (i % 13 == 0).then(|| "not an image".to_string());
            let truth = (i % 5 != 0).then_some(if i % 17 == 0 { 99 } else { i % 7 });
            report.add(Photo { path: format!("{}/p{i:03}.jpg", i % 4), truth, top5, map: None, error });
        }
        (report, labels)
    }

    #[test]
    fn the_rows_shown_are_the_first_of_all_sorted_as_their_cells_read() {
        let (report, labels) = report();
        let read: Vec<&Photo> = report.photos.iter().map(|p| p.as_ref()).filter(|p| p.error.is_none()).collect();
        for column in 0..COLUMNS.len() {
            for reversed in [false, true] {
                // Every photo's cells, sorted as text (numbers as numbers), stably.
                let mut expected = read.clone();
                expected.sort_by(|a, b| {
                    let (a, b) = (&cells(a, &labels)[column], &cells(b, &labels)[column]);
                    let order = match (a.parse::<f64>(), b.parse::<f64>()) {
                        (Ok(x), Ok(y)) => x.total_cmp(&y),
                        (Ok(_), Err(_)) => Ordering::Less,
                        (Err(_), Ok(_)) => Ordering::Greater,
                        _ => a.cmp(b),
                    };
                    if reversed {
                        order.reverse()
                    } else {
                        order
                    }
                });
                let (matching, rows) = shown_rows(&report, &labels, "", column, reversed, 50);
                assert_eq!(matching, read.len());
                let paths = |photos: &[&Photo]| photos.iter().map(|p| p.path.clone()).collect::<Vec<_>>();
                assert_eq!(paths(&rows), paths(&expected[..50]), "column {column}, reversed {reversed}");
            }
        }
    }

    #[test]
    fn the_filter_reads_every_cell_whatever_the_case() {
        let (report, labels) = report();
        // Class 5 is "Kind C", class 6 "kind_d" (shown "kind d"), as a true class or a first choice.
        for (filter, class) in [("kind c", 5), ("KIND D", 6)] {
            let either = |p: &Photo| p.error.is_none() && (p.top5[0].class == class || p.truth == Some(class));
            let (matching, rows) = shown_rows(&report, &labels, filter, 0, false, 1000);
            assert_eq!(matching, report.photos.iter().filter(|p| either(p)).count(), "{filter}");
            assert!(matching > 0 && rows.len() == matching && rows.iter().all(|p| either(p)), "{filter}");
        }
        assert_eq!(shown_rows(&report, &labels, "p007.JPG", 0, false, 50).0, 1);
    }
}
