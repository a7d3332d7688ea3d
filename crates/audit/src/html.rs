//! The report as one self-contained HTML file: every image inline, a few lines of script to
//! sort and filter the table of photos, nothing fetched.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Cursor;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use image::{ImageFormat, RgbaImage};
use xai_files::Labels;

use crate::table::{cells, class_name, matching_text, shown_label, COLUMNS, ROWS_SHOWN};
use crate::{counted, Photo, Report};

/// The pictures a report shows, as data URLs: overlays of the photos the rankings list, by
/// path, and each class's concepts' example regions, by (class, concept).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pictures {
    pub overlays: HashMap<String, String>,
    pub regions: HashMap<(usize, usize), String>,
}

/// An image as a PNG data URL, to inline in HTML.
pub fn png_data_url(image: &RgbaImage) -> String {
    let mut png = Vec::new();
    image.write_to(&mut Cursor::new(&mut png), ImageFormat::Png).expect("PNG encoding into memory cannot fail");
    format!("data:image/png;base64,{}", STANDARD.encode(&png))
}

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
figcaption{font-size:12px;overflow-wrap:anywhere}.bad{color:#a1261b}.concepts figure,.concepts figure img{width:112px;height:auto}";

/// The table as the page's (`table::shown_rows`): every photo's cells in a JSON block, and the
/// first [`ROWS_SHOWN`] of those that hold the text typed (in any cell, whatever the case)
/// drawn as rows, sorted by a clicked heading (at first by photo; a second click the other way;
/// ties in the photos' order), as numbers where both cells are one, numbers before text, else as
/// text. Unlike the
/// page it sorts the probabilities' four digits shown, not their values. A table of 50,000 rows
/// took the browser seconds to lay out after each sort.
const SCRIPT: &str = "const t=document.getElementById('photos'),f=document.getElementById('filter'),\
n=document.getElementById('matching'),all=JSON.parse(document.getElementById('rows').textContent);\
let col=0,d=1;const o=(a,b)=>a>b?d:a<b?-d:0,key=v=>[v.trim()===''?NaN:Number(v),v];\
const draw=()=>{const w=f.value.toLowerCase();\
let rows=w?all.filter(r=>r.some(c=>c.toLowerCase().includes(w))):all;\
const k=rows.map((r,i)=>[key(r[col]),i,r]);\
k.sort(([[x,s],i],[[y,u],j])=>(isNaN(x)?isNaN(y)?o(s,u):d:isNaN(y)?-d:o(x,y))||i-j);rows=k.map(e=>e[2]);\
n.textContent=`${rows.length} photo${rows.length===1?'':'s'}${rows.length>SHOWN?`, the first ${SHOWN} shown`:''}`;\
t.tBodies[0].replaceChildren(...rows.slice(0,SHOWN).map(r=>{const tr=document.createElement('tr');\
for(const c of r){const td=document.createElement('td');td.textContent=c;tr.append(td)}return tr}))};\
f.oninput=draw;t.tHead.onclick=e=>{const i=e.target.cellIndex;if(i===undefined)return;d=col===i?-d:1;col=i;draw()};";

/// A label as the report writes it, escaped.
fn label(text: &str) -> String {
    escape(&shown_label(text))
}

/// The report as HTML, with what `pictures` holds inline. Class names read as in the page's
/// table: spaces for underscores.
pub fn render(report: &Report, labels: &Labels, title: &str, pictures: &Pictures) -> String {
    let name = |class: usize| escape(&class_name(labels, class));
    let percent = |share: Option<f64>| share.map_or("-".into(), |s| format!("{:.1}%", 100.0 * s));
    let mut html = format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>{0}</title><style>{STYLE}</style><h1>{0}</h1>",
        escape(title)
    );
    let _ = write!(
        html,
        "<p>{}, {} with a true class from their folder, {} could not be read.</p>\
         <p><strong>Accuracy {}</strong>, top-5 accuracy {}.</p>",
        counted(report.photos.len(), "photo", "photos"),
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
            let image = pictures
                .overlays
                .get(&p.path)
                .map_or(String::new(), |url| format!("<img src=\"{}\" alt=\"\">", escape(url)));
            let (first, truth) = (&p.top5[0], p.truth.map_or(String::new(), name));
            let _ = write!(
                html,
                "<figure>{image}<figcaption>{}<br>{} {:.1}% (true: {truth})</figcaption></figure>",
                escape(&p.path),
                name(first.class),
                100.0 * first.prob
            );
        }
        html.push_str("</div>");
    };
    shots(&mut html, "The most confident mistakes", report.confident_mistakes());
    shots(&mut html, "The least confident right answers", report.unsure_right_answers());
    concepts(&mut html, report, pictures, &name);
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
    let rows: Vec<[String; 5]> = report.photos.iter().filter(|p| p.error.is_none()).map(|p| cells(p, labels)).collect();
    let _ = write!(
        html,
        "<h2>Every photo</h2><p><input id=filter autocomplete=off placeholder=\"filter\" aria-label=\"filter the photos\"> \
         <span id=matching>{}</span></p><table id=photos><thead><tr>",
        matching_text(rows.len())
    );
    for column in COLUMNS {
        let _ = write!(html, "<th>{column}");
    }
    html.push_str("</thead><tbody>");
    for row in rows.iter().take(ROWS_SHOWN) {
        html.push_str("<tr>");
        for cell in row {
            let _ = write!(html, "<td>{}", escape(cell));
        }
    }
    // '<' only occurs inside the JSON's strings, where \u003c reads the same and cannot close
    // the script element.
    let json = serde_json::to_string(&rows).expect("strings serialise").replace('<', "\\u003c");
    let _ = write!(html, "</tbody></table><script type=application/json id=rows>{json}</script>");
    let _ = writeln!(html, "<script>const SHOWN={ROWS_SHOWN};{SCRIPT}</script></html>");
    html
}

/// Per predicted class, its shared concepts: each one's example region, classes and share.
fn concepts(html: &mut String, report: &Report, pictures: &Pictures, name: &dyn Fn(usize) -> String) {
    if report.concepts.is_empty() {
        return;
    }
    html.push_str("<h2>What the photos of each class share</h2>");
    for class in &report.concepts {
        let _ = write!(
            html,
            "<h3>{} ({} photos)</h3><div class=\"shots concepts\">",
            name(class.class),
            class.photos.len()
        );
        for (i, concept) in class.concepts.iter().enumerate() {
            let image = pictures
                .regions
                .get(&(class.class, i))
                .map_or(String::new(), |url| format!("<img src=\"{}\" alt=\"\">", escape(url)));
            let labels: Vec<String> =
                concept.labels.iter().map(|(text, p)| format!("{} {:.0}%", label(text), 100.0 * p)).collect();
            let _ = write!(
                html,
                "<figure>{image}<figcaption>{}<br>{:.0}% of the photos, strongest in {}</figcaption></figure>",
                labels.join(", "),
                100.0 * concept.share,
                escape(&concept.example)
            );
        }
        html.push_str("</div>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xai_files::Prediction;

    #[test]
    fn names_from_files_are_escaped_and_every_photo_is_listed() {
        let labels = Labels::from_json(br#"["<b>cat</b>", "hot_dog"]"#).unwrap();
        let mut report = Report::default();
        let top5 = vec![Prediction { class: 1, label: "hot_dog".into(), prob: 0.7 }];
        report.add(Photo { path: "<b>cat</b>/a&b.jpg".into(), truth: Some(0), top5, map: None, error: None });
        let error = Some("not an image".into());
        report.add(Photo { path: "x.txt".into(), truth: None, top5: Vec::new(), map: None, error });
        report.concepts.push(crate::ClassConcepts {
            class: 1,
            photos: vec!["<b>cat</b>/a&b.jpg".into()],
            concepts: vec![crate::SharedConcept {
                labels: vec![("<i>dog</i>".into(), 0.5)],
                share: 1.0,
                example: "<b>cat</b>/a&b.jpg".into(),
            }],
        });
        let regions = HashMap::from([((1, 0), png_data_url(&RgbaImage::new(1, 1)))]);
        let html = render(&report, &labels, "audit", &Pictures { regions, ..Pictures::default() });
        assert!(!html.contains("<b>cat"), "a label or path written as markup");
        assert!(html.contains("&lt;b&gt;cat&lt;/b&gt;/a&amp;b.jpg"));
        assert!(html.contains("Accuracy 0.0%") && html.contains("x.txt: not an image"));
        assert!(html.contains("&lt;i&gt;dog&lt;/i&gt; 50%") && html.contains("<img src=\"data:image/png;base64,"));
        let row = "<tr><td>&lt;b&gt;cat&lt;/b&gt;/a&amp;b.jpg<td>&lt;b&gt;cat&lt;/b&gt;<td>hot dog<td>0.7000<td>no";
        assert!(html.contains(row), "the table's row as the page writes it");
        assert!(!html.contains("hot_dog"), "class names with spaces for underscores, as in the page");
        // Every row's cells for the script, where no '<' can end its element.
        let json = r#"[["\u003cb>cat\u003c/b>/a&b.jpg","\u003cb>cat\u003c/b>","hot dog","0.7000","no"]]"#;
        assert!(html.contains(&format!("<script type=application/json id=rows>{json}</script>")), "{html}");
        assert!(html.contains("<span id=matching>1 photo</span>"));
    }

    #[test]
    fn the_table_draws_its_first_rows_and_holds_every_photo_for_the_script() {
        let labels = Labels::from_json(br#"["cat"]"#).unwrap();
        let mut report = Report::default();
        for i in 0..=ROWS_SHOWN {
            let top5 = vec![Prediction { class: 0, label: "cat".into(), prob: 0.5 }];
            report.add(Photo { path: format!("{i}.png"), truth: None, top5, map: None, error: None });
        }
        let html = render(&report, &labels, "audit", &Pictures::default());
        let drawn = html.split("<tbody>").nth(1).unwrap().split("</tbody>").next().unwrap();
        assert_eq!(drawn.matches("<tr>").count(), ROWS_SHOWN);
        assert!(html.contains(&format!(r#"["{ROWS_SHOWN}.png","","cat","0.5000",""]]</script>"#)));
        assert!(html.contains("201 photos, the first 200 shown"));
    }
}
