//! The report's photos as the page's table shows them: each photo's cells, and the photos that
//! match a filter, sorted by a column, as many as the table shows. Only those are put in order
//! and written out: the page draws the table again after every batch of a folder of tens of
//! thousands.

use std::cmp::Ordering;

use xai_files::Labels;

use crate::{first_in_order, Photo, Report};

/// The table's columns.
pub const COLUMNS: [&str; 5] = ["photo", "true class", "first choice", "probability", "right"];

/// A class's name as the report writes it, spaces for underscores.
pub fn class_name(labels: &Labels, class: usize) -> String {
    labels.name(class).unwrap_or("?").replace('_', " ")
}

/// A photo's cells, as text (the filter reads them).
pub fn cells(photo: &Photo, labels: &Labels) -> [String; 5] {
    let first = photo.predicted();
    [
        photo.path.clone(),
        photo.truth.map_or(String::new(), |c| class_name(labels, c)),
        first.map_or(String::new(), |p| p.label.replace('_', " ")),
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

/// How two photos compare in a column: as the cells read, the probability as a number, and
/// "right" as no before yes; nothing written out.
fn column_order(a: &Photo, b: &Photo, column: usize, labels: &Labels) -> Ordering {
    let shown = |photo| class_cell(photo, column, labels).chars().map(|c| if c == '_' { ' ' } else { c });
    match column {
        0 => a.path.cmp(&b.path),
        3 => a.predicted().map(|p| p.prob).partial_cmp(&b.predicted().map(|p| p.prob)).unwrap_or(Ordering::Equal),
        4 => a.right().cmp(&b.right()),
        _ => shown(a).cmp(shown(b)),
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

    /// 300 photos of 7 classes named with underscores (some without a true class, some not
    /// read, probabilities that repeat), more than the 50 shown.
    fn report() -> (Report, Labels) {
        let names: Vec<String> = (0..7).map(|c| format!("kind_{}", (b'g' - c as u8) as char)).collect();
        let labels = Labels::from_json(serde_json::to_string(&names).unwrap().as_bytes()).unwrap();
        let mut report = Report::default();
        for i in 0..300usize {
            let first = i * 3 % 7;
            let top5 = vec![Prediction { class: first, label: names[first].clone(), prob: (i % 11) as f32 / 10.0 }];
            let error = (i % 13 == 0).then(|| "not an image".to_string());
            let truth = (i % 5 != 0).then_some(i % 7);
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
        // Class 3 is "kind_d", shown as "kind d" as a true class or a first choice.
        let either = |p: &Photo| p.error.is_none() && (p.top5[0].class == 3 || p.truth == Some(3));
        let (matching, rows) = shown_rows(&report, &labels, "KIND D", 0, false, 1000);
        assert_eq!(matching, report.photos.iter().filter(|p| either(p)).count());
        assert!(matching > 0 && rows.len() == matching && rows.iter().all(|p| either(p)));
        assert_eq!(shown_rows(&report, &labels, "p007.JPG", 0, false, 50).0, 1);
    }
}
