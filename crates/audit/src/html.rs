//! The report as one self-contained HTML file: every image inline, a few lines of script to
//! sort and filter the table of photos, nothing fetched.

use std::collections::HashMap;
use std::fmt::Write as _;

use xai_files::Labels;

use crate::{Photo, Report};

/// Text safe inside HTML elements and attributes.
pub fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            '\'' => "&#39;".into(),
            c => c.to_string(),
        })
        .collect()
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#111}table{border-collapse:collapse}\
th,td{padding:.25rem .5rem;border-bottom:1px solid #e4e6ea;text-align:left;vertical-align:top}th{cursor:pointer}\
.shots{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0;width:180px}figure img{width:180px;height:180px}\
figcaption{font-size:12px;overflow-wrap:anywhere}.bad{color:#a1261b}";

/// Sorting by a clicked heading (numbers as numbers) and filtering rows by the text typed.
const SCRIPT: &str = "const t=document.getElementById('photos'),f=document.getElementById('filter');\
f.oninput=()=>{for(const r of t.tBodies[0].rows)r.hidden=!r.textContent.toLowerCase().includes(f.value.toLowerCase())};\
t.tHead.onclick=e=>{const i=e.target.cellIndex;if(i===undefined)return;const rows=[...t.tBodies[0].rows];\
const k=r=>{const v=r.cells[i].textContent;return isNaN(parseFloat(v))?v:parseFloat(v)};\
const d=t.dataset.col==i?-1:1;t.dataset.col=d===1?i:'';rows.sort((a,b)=>k(a)>k(b)?d:k(a)<k(b)?-d:0);t.tBodies[0].append(...rows)};";

/// The report as HTML: `thumbnails` holds a data URL (an overlay, say) for the photos listed
/// in the rankings, by path.
pub fn render(report: &Report, labels: &Labels, title: &str, thumbnails: &HashMap<String, String>) -> String {
    let name = |class: usize| escape(labels.name(class).unwrap_or("?"));
    let percent = |share: Option<f64>| share.map_or("-".into(), |s| format!("{:.1}%", 100.0 * s));
    let mut html = format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>{0}</title><style>{STYLE}</style><h1>{0}</h1>",
        escape(title)
    );
    let _ = write!(
        html,
        "<p>{} photos, {} with a true class from their folder, {} could not be read.</p>\
         <p><strong>Accuracy {}</strong>, top-5 accuracy {}.</p>",
        report.photos.len(),
        report.labelled_count(),
        report.bad().count(),
        percent(report.accuracy()),
        percent(report.top5_accuracy())
    );
    html.push_str("<h2>Most confused</h2><table><tr><th>true class<th>taken for<th>photos");
    for c in report.confusions() {
        let _ = write!(html, "<tr><td>{}<td>{}<td>{}", name(c.truth), name(c.predicted), c.count);
    }
    html.push_str("</table>");
    let shots = |html: &mut String, heading: &str, photos: Vec<&Photo>| {
        let _ = write!(html, "<h2>{heading}</h2><div class=shots>");
        for p in photos {
            let image =
                thumbnails.get(&p.path).map_or(String::new(), |url| format!("<img src=\"{}\" alt=\"\">", escape(url)));
            let (first, truth) = (&p.top5[0], p.truth.map_or(String::new(), name));
            let _ = write!(
                html,
                "<figure>{image}<figcaption>{}<br>{} {:.1}% (true: {truth})</figcaption></figure>",
                escape(&p.path),
                escape(&first.label),
                100.0 * first.prob
            );
        }
        html.push_str("</div>");
    };
    shots(&mut html, "The most confident mistakes", report.confident_mistakes());
    shots(&mut html, "The least confident right answers", report.unsure_right_answers());
    if report.bad().next().is_some() || !report.notes.is_empty() {
        html.push_str("<h2>Not classified, and notes</h2><ul>");
        for p in report.bad() {
            let _ = write!(html, "<li class=bad>{}: {}", escape(&p.path), escape(p.error.as_deref().unwrap_or("")));
        }
        for note in &report.notes {
            let _ = write!(html, "<li>{}", escape(note));
        }
        html.push_str("</ul>");
    }
    html.push_str(
        "<h2>Every photo</h2><p><input id=filter placeholder=\"filter\" aria-label=\"filter the photos\"></p>\
         <table id=photos><thead><tr><th>photo<th>true class<th>first choice<th>probability<th>right</thead><tbody>",
    );
    for p in report.photos.iter().filter(|p| p.error.is_none()) {
        let first = &p.top5[0];
        let right = p.right().map_or("", |r| if r { "yes" } else { "no" });
        let _ = write!(
            html,
            "<tr><td>{}<td>{}<td>{}<td>{:.4}<td>{right}",
            escape(&p.path),
            p.truth.map_or(String::new(), name),
            escape(&first.label),
            first.prob
        );
    }
    let _ = writeln!(html, "</tbody></table><script>{SCRIPT}</script></html>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use xai_files::Prediction;

    #[test]
    fn names_from_files_are_escaped_and_every_photo_is_listed() {
        let labels = Labels::from_json(br#"["<b>cat</b>", "dog"]"#).unwrap();
        let mut report = Report::default();
        let top5 = vec![Prediction { class: 1, label: "dog".into(), prob: 0.7 }];
        report.add(Photo { path: "<b>cat</b>/a&b.jpg".into(), truth: Some(0), top5, error: None });
        report.add(Photo { path: "x.txt".into(), truth: None, top5: Vec::new(), error: Some("not an image".into()) });
        let html = render(&report, &labels, "audit", &HashMap::new());
        assert!(!html.contains("<b>cat"), "a label or path written as markup");
        assert!(html.contains("&lt;b&gt;cat&lt;/b&gt;/a&amp;b.jpg"));
        assert!(html.contains("Accuracy 0.0%") && html.contains("x.txt: not an image"));
    }
}
