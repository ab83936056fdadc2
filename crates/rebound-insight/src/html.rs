//! The report as one self-contained HTML page: inline CSS, inline JS and
//! SVG charts drawn from the report's JSON embedded in the page. No network,
//! no CDN: it opens from disk.
//!
//! When the script has drawn everything it sets `data-rendered="ok"` on
//! `<body>` and writes `rendered` into `#render-status` (tests look for
//! both); on error it writes the message there instead.

use crate::report::Report;
use rebound_ingest::time::format_rfc3339;
use std::fmt::Write;

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

const CSS: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#b8c0d0}
main{padding:16px 24px;max-width:1240px}
section{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:12px 16px;margin:0 0 16px}
h2{font-size:16px;margin:0 0 8px}
table{border-collapse:collapse;width:100%;font-size:12px}
th,td{padding:3px 6px;border-bottom:1px solid #eceff3;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
td.l{text-align:left;white-space:normal}
.kpis{display:flex;gap:12px;flex-wrap:wrap}
.kpi{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:8px 14px;min-width:120px}
.kpi b{display:block;font-size:20px}
.open{color:#b3261e;font-weight:bold}
.closed{color:#5f6b7a}
.btn{border:1px solid #9aa5b5;background:#fff;border-radius:4px;padding:2px 8px;margin-right:4px;cursor:pointer}
.btn.on{background:#1d2330;color:#fff}
svg text{font-size:11px;fill:#44506a}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
code{font-size:11px}
"#;

/// The page's one script, public so a server can allow it by hash in its
/// Content-Security-Policy.
pub const SCRIPT: &str = r#"
(function(){
var status=document.getElementById('render-status');
try{
var R=JSON.parse(document.getElementById('report-data').textContent);
var NS='http://www.w3.org/2000/svg';
var COLORS=['#1f77b4','#d62728','#2ca02c','#ff7f0e','#9467bd','#8c564b','#e377c2','#17becf','#bcbd22','#7f7f7f','#393b79','#637939'];
function el(n,a,p){var e=document.createElementNS(NS,n);for(var k in a)e.setAttribute(k,a[k]);if(p)p.appendChild(e);return e;}
function txt(p,x,y,s,anchor){var t=el('text',{x:x,y:y,'text-anchor':anchor||'start'},p);t.textContent=s;return t;}
function fmtT(ms){var d=new Date(ms);return isNaN(d.getTime())?String(ms):d.toISOString().slice(5,16).replace('T',' ');}
function pct(x){return (x*100).toFixed(x<0.1?2:1)+'%';}
function lineChart(id,metric){
  var host=document.getElementById(id);host.innerHTML='';
  var W=1180,H=300,L=60,Rm=20,T=16,B=40;
  var svg=el('svg',{width:W,height:H,viewBox:'0 0 '+W+' '+H,'class':'chart','data-metric':metric},host);
  var tmin=Infinity,tmax=-Infinity,vmax=0;
  R.series.forEach(function(s){s.points.forEach(function(p){tmin=Math.min(tmin,p.t);tmax=Math.max(tmax,p.t);
    var v=metric==='attempted'?p.attempted:p.rates[metric];vmax=Math.max(vmax,v);});});
  if(!isFinite(tmin)){txt(svg,W/2,H/2,'no events','middle');return svg;}
  if(tmax===tmin)tmax=tmin+1;if(vmax===0)vmax=metric==='attempted'?1:0.01;
  function X(t){return L+(t-tmin)/(tmax-tmin)*(W-L-Rm);}
  function Y(v){return H-B-v/vmax*(H-T-B);}
  for(var i=0;i<=4;i++){var v=vmax*i/4;el('line',{x1:L,x2:W-Rm,y1:Y(v),y2:Y(v),stroke:'#eceff3'},svg);
    txt(svg,L-6,Y(v)+4,metric==='attempted'?Math.round(v):pct(v),'end');}
  for(var j=0;j<=6;j++){var t=tmin+(tmax-tmin)*j/6;txt(svg,X(t),H-B+16,fmtT(t),'middle');}
  (R.incidents||[]).forEach(function(inc){
    var x1=X(Math.max(tmin,inc.first_seen_ms)),x2=X(Math.min(tmax,inc.closed_ms||inc.last_seen_ms));
    var r=el('rect',{x:x1,y:T,width:Math.max(2,x2-x1),height:H-T-B,fill:inc.state==='open'?'#fbe3e1':'#fdf3e1','class':'incident-band'},svg);
    var tt=el('title',{},r);tt.textContent=inc.kind+' at '+inc.provider;});
  R.series.forEach(function(s,k){
    var d='';s.points.forEach(function(p,i){var v=metric==='attempted'?p.attempted:p.rates[metric];d+=(i?'L':'M')+X(p.t).toFixed(1)+','+Y(v).toFixed(1);});
    el('path',{d:d,fill:'none',stroke:COLORS[k%COLORS.length],'stroke-width':1.6,'class':'series-line','data-key':s.key},svg);});
  el('line',{x1:L,x2:L,y1:T,y2:H-B,stroke:'#9aa5b5'},svg);el('line',{x1:L,x2:W-Rm,y1:H-B,y2:H-B,stroke:'#9aa5b5'},svg);
  return svg;
}
function legend(id){var h=document.getElementById(id);R.series.forEach(function(s,k){var sp=document.createElement('span');
  var i=document.createElement('i');i.style.background=COLORS[k%COLORS.length];sp.appendChild(i);sp.appendChild(document.createTextNode(s.key));h.appendChild(sp);});}
function barChart(id,rows,cls){
  var host=document.getElementById(id);var W=1180,rowH=20,L=360,H=Math.max(40,rows.length*rowH+10);
  var svg=el('svg',{width:W,height:H,viewBox:'0 0 '+W+' '+H,'class':'chart'},host);
  var max=0;rows.forEach(function(r){max=Math.max(max,r[1]);});if(!max)max=1;
  rows.forEach(function(r,i){var y=5+i*rowH;var w=(W-L-120)*r[1]/max;
    txt(svg,L-8,y+13,r[0].length>58?r[0].slice(0,57)+'…':r[0],'end');
    el('rect',{x:L,y:y+2,width:Math.max(1,w),height:rowH-6,fill:COLORS[(r[2]||0)%COLORS.length],'class':cls},svg);
    txt(svg,L+w+6,y+13,String(r[1])+(r[3]?'  '+r[3]:''));});
  if(!rows.length)txt(svg,10,25,'no failures');
  return svg;
}
var metric='bounce_rate';
var buttons=document.querySelectorAll('[data-metric-btn]');
function draw(){lineChart('rates-chart',metric);buttons.forEach(function(b){b.classList.toggle('on',b.getAttribute('data-metric-btn')===metric);});}
buttons.forEach(function(b){b.addEventListener('click',function(){metric=b.getAttribute('data-metric-btn');draw();});});
draw();
lineChart('volume-chart','attempted');
legend('rates-legend');
var total=R.reasons.reduce(function(a,r){return a+r[1];},0)||1;
barChart('reasons-chart',R.reasons.slice(0,15).map(function(r,i){return [r[0],r[1],i,pct(r[1]/total)];}),'reason-bar');
var prow=[];R.top_patterns.forEach(function(p,k){p.patterns.slice(0,3).forEach(function(x){prow.push([p.provider+': '+x.pattern,x.count,k,pct(x.share)]);});});
barChart('patterns-chart',prow,'pattern-bar');
document.body.setAttribute('data-rendered','ok');
status.textContent='rendered';
}catch(e){status.textContent='error: '+e;document.body.setAttribute('data-rendered','error');if(window.console)console.error(e);}
})();
"#;

/// JSON that can sit inside a `<script>` element: every `<`, `>` and `&`
/// (which only occur inside strings) and the line separators U+2028/2029
/// become `\uXXXX` escapes, so no string can close the element, open an
/// HTML comment or break a script, and `JSON.parse` gives back the same
/// text.
pub fn embeddable_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Renders the report as a self-contained HTML page.
pub fn page(r: &Report) -> String {
    let json = embeddable_json(&serde_json::to_string(r).unwrap_or_else(|_| "{}".into()));
    let t = |ms: Option<i64>| ms.map(format_rfc3339).unwrap_or_else(|| "-".into());
    let mut h = String::with_capacity(json.len() + 64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Rebound report</title>\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{CSS}</style></head>\
<body data-rendered=\"no\"><header><h1>Rebound delivery report</h1><p>{} events, {} → {}, by {}, {} buckets \
<span id=\"render-status\">not rendered</span></p></header><main>",
        r.events,
        esc(&t(r.first_event_ms)),
        esc(&t(r.last_event_ms)),
        r.by.as_str(),
        r.bucket.as_str()
    );
    // Alerts first: what is over its line, before the overview.
    let _ = write!(
        h,
        "<section id=\"alerts\"><h2>Alerts ({})</h2><table><tr><th>scope</th><th>key</th><th>metric</th>\
<th>value</th><th>threshold</th><th>attempts</th><th>since</th></tr>",
        r.alerts.len()
    );
    for a in &r.alerts {
        let _ = write!(
            h,
            "<tr class=\"alert-row\"><td>{}</td><td>{}</td><td>{}</td><td class=\"open\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            a.scope.as_str(),
            esc(&a.key),
            a.metric.as_str(),
            pct(a.value),
            pct(a.threshold),
            a.attempts,
            esc(&format_rfc3339(a.since_ms))
        );
    }
    if r.alerts.is_empty() {
        h.push_str("<tr><td colspan=\"7\">none</td></tr>");
    }
    h.push_str("</table></section>");
    let c = &r.totals.counts;
    let rt = &r.totals.rates;
    let open = r.incidents.iter().filter(|i| i.state == "open").count();
    let _ = write!(
        h,
        "<section class=\"kpis\">\
<div class=\"kpi\">attempted<b>{}</b></div><div class=\"kpi\">accepted<b>{}</b></div>\
<div class=\"kpi\">bounce rate<b>{}</b></div><div class=\"kpi\">hard / soft<b>{} / {}</b></div>\
<div class=\"kpi\">deferral rate<b>{}</b></div><div class=\"kpi\">block rate<b>{}</b></div>\
<div class=\"kpi\">auth failures<b>{}</b></div><div class=\"kpi\">complaints<b>{}</b></div>\
<div class=\"kpi\">incidents (open)<b>{} ({})</b></div></section>",
        c.attempted,
        c.delivered,
        pct(rt.bounce_rate),
        pct(rt.hard_bounce_rate),
        pct(rt.soft_bounce_rate),
        pct(rt.deferral_rate),
        pct(rt.block_rate),
        pct(rt.auth_failure_rate),
        pct(rt.complaint_rate),
        r.incidents.len(),
        open
    );
    let _ = write!(
        h,
        "<section><h2>Rates over time by {}</h2><div>\
<button class=\"btn\" data-metric-btn=\"bounce_rate\">bounce</button>\
<button class=\"btn\" data-metric-btn=\"hard_bounce_rate\">hard bounce</button>\
<button class=\"btn\" data-metric-btn=\"deferral_rate\">deferral</button>\
<button class=\"btn\" data-metric-btn=\"block_rate\">block</button>\
<button class=\"btn\" data-metric-btn=\"auth_failure_rate\">auth failure</button>\
<button class=\"btn\" data-metric-btn=\"complaint_rate\">complaint</button></div>\
<div id=\"rates-chart\"></div><div class=\"legend\" id=\"rates-legend\"></div>\
<p style=\"font-size:12px;color:#5f6b7a\">Shaded bands: incidents (red: open).</p></section>\
<section><h2>Attempted volume</h2><div id=\"volume-chart\"></div></section>",
        r.by.as_str()
    );
    let _ = write!(
        h,
        "<section><h2>Incidents</h2><table><tr><th>state</th><th>kind</th><th>provider</th><th>family</th>\
<th>events</th><th>peak share</th><th>first seen</th><th>last seen</th><th>affected</th><th>first action</th></tr>"
    );
    for i in &r.incidents {
        let affected = {
            let mut a = Vec::new();
            if !i.ips.is_empty() {
                a.push(format!(
                    "IPs: {}",
                    i.ips
                        .iter()
                        .map(|x| x.0.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if !i.campaigns.is_empty() {
                a.push(format!(
                    "campaigns: {}",
                    i.campaigns
                        .iter()
                        .map(|x| x.0.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if let Some(b) = &i.blocklist {
                a.push(format!(
                    "listed on {}: {} {}",
                    b.list,
                    b.listed,
                    b.assets.join(", ")
                ));
            }
            a.join("; ")
        };
        let _ = write!(
            h,
            "<tr class=\"incident-row\"><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
<td>{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}<br><code>{}</code></td></tr>",
            esc(&i.state),
            esc(&i.state),
            i.kind.as_str(),
            esc(&i.provider),
            esc(&i.family),
            i.events,
            pct(i.peak_share),
            esc(&format_rfc3339(i.first_seen_ms)),
            esc(&format_rfc3339(i.last_seen_ms)),
            esc(&affected),
            esc(&i.action),
            esc(i.samples.first().map(String::as_str).unwrap_or(""))
        );
    }
    if r.incidents.is_empty() {
        h.push_str("<tr><td colspan=\"10\">none</td></tr>");
    }
    h.push_str("</table></section>");
    let _ = write!(
        h,
        "<section><h2>Rates by {}</h2><table><tr><th>{}</th><th>attempted</th><th>accepted</th><th>bounce</th>\
<th>hard</th><th>soft</th><th>deferral</th><th>block</th><th>auth</th><th>complaint</th></tr>",
        r.by.as_str(),
        r.by.as_str()
    );
    for g in r.groups.iter().chain(std::iter::once(&r.totals)) {
        let (c, rt) = (&g.counts, &g.rates);
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&g.key),
            c.attempted,
            c.delivered,
            pct(rt.bounce_rate),
            pct(rt.hard_bounce_rate),
            pct(rt.soft_bounce_rate),
            pct(rt.deferral_rate),
            pct(rt.block_rate),
            pct(rt.auth_failure_rate),
            pct(rt.complaint_rate)
        );
    }
    h.push_str("</table></section>");
    h.push_str(
        "<section><h2>Reason mix (failed attempts)</h2><div id=\"reasons-chart\"></div></section>\
<section><h2>Top patterns per provider</h2><div id=\"patterns-chart\"></div></section>",
    );
    let _ = writeln!(
        h,
        "</main><script type=\"application/json\" id=\"report-data\">{json}</script><script>{SCRIPT}</script></body></html>"
    );
    h
}
