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

/// The look both HTML pages share (this report and the server's
/// dashboard): colours, type, cards, tables, charts.
pub const STYLE: &str = r#"
:root{--fg:#1d232a;--muted:#5c6670;--line:#dde1e8;--bg:#f6f7f9;--card:#fff;--bad:#b3261e;--ok:#1f7a3a;--head:#22303c}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:var(--bg);color:var(--fg)}
header{background:var(--head);color:#fff;padding:12px 20px}
header h1{margin:0;font-size:19px}
header p{margin:4px 0 0;color:#c9d3dc}
main{padding:14px 20px;max-width:1400px}
section{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:12px 14px;margin:0 0 14px;min-width:0}
h2{font-size:16px;margin:0 0 8px}
.note{font-size:12px;color:var(--muted);margin:6px 0 0}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:4px 8px;border-bottom:1px solid #eceff3;text-align:left;vertical-align:top}
th{font-weight:600;color:var(--muted);white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.t{white-space:nowrap;font-variant-numeric:tabular-nums}
td.wrap{min-width:14em;max-width:34em}
.kpis{display:flex;gap:10px;flex-wrap:wrap;background:none;border:0;padding:0}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:110px;flex:1 1 110px}
.kpi b{display:block;font-size:20px;font-variant-numeric:tabular-nums}
.open,.bad{color:var(--bad);font-weight:600}
.closed,.muted{color:var(--muted)}
.ok{color:var(--ok)}
.btn{border:1px solid #9aa5b5;background:#fff;border-radius:4px;padding:2px 8px;margin:0 4px 4px 0;cursor:pointer;font:inherit;font-size:13px}
.btn.on{background:var(--head);color:#fff}
.chart svg{display:block;max-width:100%;height:auto}
svg text{font-size:11px;fill:#44506a}
svg text.axis-title{font-size:12px;fill:#1d232a}
svg text.band-label{font-size:11px;font-weight:600}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;margin-top:6px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:5px;border-radius:2px;vertical-align:-1px}
.legend i.ref{height:0;border-top:2px dashed #5c6670;border-radius:0;vertical-align:3px}
.chip{display:inline-block;padding:0 6px;border-radius:9px;color:#fff;font-size:12px;white-space:nowrap}
details summary{cursor:pointer;color:var(--muted);font-size:12px}
details code{display:block;white-space:pre-wrap;word-break:break-all;font-size:11px;background:#f3f4f6;padding:4px 6px;margin-top:4px}
code{font-size:12px;word-break:break-all}
footer{padding:0 20px 16px;font-size:12px;color:var(--muted)}
table.cards tr.head th{white-space:nowrap}
@media (max-width:700px){
main{padding:10px}
header{padding:10px 12px}
.kpi b{font-size:17px}
table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:auto}
table.cards tr.head{display:none}
table.cards tr{border-bottom:2px solid var(--line);padding:6px 0}
table.cards td,table.cards td.num{border:0;padding:2px 0;min-width:0;max-width:none;text-align:left;white-space:normal}
table.cards td[data-label]::before{content:attr(data-label) ": ";color:var(--muted);font-size:12px}
}
"#;

/// The charts both pages draw with (`window.RK`): axes with titles and
/// units, round tick values, time ticks on whole UTC hours, thousands
/// separators, incident bands coloured and labelled by kind, reference
/// lines, lines with gaps where a bucket has too little volume, stacked
/// bars.
macro_rules! chart_kit {
    () => {
        r#"
(function(){
var NS='http://www.w3.org/2000/svg',HOUR=3600000;
var KIND_COLORS={blocklist:'#8e24aa',reputation:'#c62828',authentication:'#ef6c00',rate_limiting:'#1565c0',content:'#6d4c41',list_quality:'#2e7d32',other:'#546e7a'};
var COLORS=['#1565c0','#c62828','#2e7d32','#ef6c00','#6a1b9a','#00838f','#4e342e','#ad1457'];
function el(n,a,p){var e=document.createElementNS(NS,n);for(var k in a)e.setAttribute(k,a[k]);if(p)p.appendChild(e);return e;}
function txt(p,x,y,s,anchor,cls){var t=el('text',{x:x,y:y,'text-anchor':anchor||'start'},p);if(cls)t.setAttribute('class',cls);t.textContent=s;return t;}
function int(n){return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g,',');}
function pct(x,step){var d=step===undefined?(x<0.1?2:1):(step*100>=1?0:step*100>=0.1?1:2);return (x*100).toFixed(d)+'%';}
function iso(ms){var d=new Date(ms);return isNaN(d.getTime())?null:d.toISOString();}
// `2026-11-29 08:00` (UTC; the pages say so once).
function minute(ms){var s=iso(ms);return s?s.slice(0,10)+' '+s.slice(11,16):String(ms);}
function second(ms){var s=iso(ms);return s?s.slice(0,10)+' '+s.slice(11,19):String(ms);}
function duration(ms){var m=Math.max(0,Math.floor(ms/60000)),d=Math.floor(m/1440),h=Math.floor(m/60)%24;m=m%60;
  return d?d+'d '+h+'h':h?h+'h '+(m<10?'0':'')+m+'m':m+'m';}
// Round steps: 1, 2, 2.5 or 5 times a power of ten.
function niceStep(max,n){var raw=max/n,p=Math.pow(10,Math.floor(Math.log10(raw))),m=raw/p;
  return (m<=1?1:m<=2?2:m<=2.5?2.5:m<=5?5:10)*p;}
function yTicks(max,n){if(!(max>0))max=1;var st=niceStep(max,n),top=Math.ceil(max/st-1e-9)*st,t=[];
  for(var i=0;i*st<=top+st/2;i++)t.push(+(i*st).toPrecision(12));return {ticks:t,step:st,top:top};}
// Ticks on whole hours (UTC), at most maxTicks of them.
function tTicks(t0,t1,maxTicks){var hs=[1,2,3,6,12,24,48,72,168,336,672],st=hs[hs.length-1]*HOUR;
  for(var i=0;i<hs.length;i++){if((t1-t0)/(hs[i]*HOUR)<=maxTicks){st=hs[i]*HOUR;break;}}
  var t=[];for(var v=Math.ceil(t0/st)*st;v<=t1;v+=st)t.push(v);return {ticks:t,step:st};}
function tLabel(v,st,first){var s=iso(v);if(!s)return String(v);var day=s.slice(5,10),hm=s.slice(11,16);
  return st>=24*HOUR?day:(first||hm==='00:00')?day+' '+hm:hm;}
function width(host){var w=host.clientWidth||(host.parentNode&&host.parentNode.clientWidth)||900;return Math.max(280,Math.min(1360,w));}
/* chart(host, o): o.kind 'lines'|'stacked'; o.series [{key,color,points:[[t,v],…]}] (stacked: the
   same buckets in every series); o.t0, o.t1, o.bucket (ms); o.y 'pct'|'int'; o.yTitle; o.refs
   [{v,label}]; o.bands (incidents); o.lineClass. Returns the svg. */
function chart(host,o){
  host.textContent='';
  var W=width(host),narrow=W<600,H=narrow?230:290;
  var fmtY=function(v,st){return o.y==='pct'?pct(v,st):int(v);};
  var vmax=0;
  if(o.kind==='stacked'){var sums={};o.series.forEach(function(s){s.points.forEach(function(p){sums[p[0]]=(sums[p[0]]||0)+p[1];});});
    for(var k in sums)vmax=Math.max(vmax,sums[k]);}
  else o.series.forEach(function(s){s.points.forEach(function(p){vmax=Math.max(vmax,p[1]);});});
  var refs=(o.refs||[]).filter(function(r){return r.v<=Math.max(vmax,1e-9)*3;});
  refs.forEach(function(r){vmax=Math.max(vmax,r.v*1.1);});
  var yt=yTicks(vmax||(o.y==='pct'?0.01:1),narrow?4:5);
  var lw=0;yt.ticks.forEach(function(v){lw=Math.max(lw,fmtY(v,yt.step).length);});
  var L=24+lw*6.5+6,Rm=14,T=o.bands&&o.bands.length?22:10,B=44;
  var svg=el('svg',{width:W,height:H,viewBox:'0 0 '+W+' '+H,'class':'chart-svg',role:'img','aria-label':o.yTitle,'data-y-step':yt.step},null);
  var t0=o.t0,t1=Math.max(o.t1,o.t0+(o.bucket||HOUR));
  function X(t){return L+(t-t0)/(t1-t0)*(W-L-Rm);}
  function Y(v){return H-B-v/yt.top*(H-T-B);}
  yt.ticks.forEach(function(v){el('line',{x1:L,x2:W-Rm,y1:Y(v),y2:Y(v),stroke:'#eceff3'},svg);txt(svg,L-6,Y(v)+4,fmtY(v,yt.step),'end','y-tick');});
  var tt=tTicks(t0,t1,Math.max(2,Math.floor((W-L-Rm)/(narrow?70:95))));
  tt.ticks.forEach(function(v,i){var x=X(v);el('line',{x1:x,x2:x,y1:H-B,y2:H-B+4,stroke:'#9aa5b5'},svg);
    var lab=tLabel(v,tt.step,i===0),anchor=x-lab.length*3.3<L-4?'start':x+lab.length*3.3>W-2?'end':'middle';
    txt(svg,x,H-B+16,lab,anchor,'x-tick');});
  txt(svg,L+(W-L-Rm)/2,H-6,'time (UTC)','middle','axis-title');
  var yl=txt(svg,0,0,o.yTitle,'middle','axis-title');yl.setAttribute('transform','translate(12,'+(T+(H-T-B)/2)+') rotate(-90)');
  (o.bands||[]).forEach(function(inc){
    var a=Math.max(t0,inc.first_seen_ms),b=Math.min(t1,inc.closed_ms||inc.last_seen_ms);if(b<t0||a>t1)return;
    var x1=X(a),x2=Math.max(x1+3,X(b)),c=KIND_COLORS[inc.kind]||KIND_COLORS.other;
    var r=el('rect',{x:x1,y:T,width:x2-x1,height:H-T-B,fill:c,'fill-opacity':inc.state==='open'?0.22:0.13,'class':'incident-band','data-kind':inc.kind},svg);
    el('title',{},r).textContent='#'+inc.n+' '+inc.kind.replace('_',' ')+' at '+inc.provider+', '+minute(inc.first_seen_ms)+' UTC, '+duration(b-a);
    var label='#'+inc.n+(x2-x1>90?' '+inc.kind.replace('_',' '):'');
    var lx=Math.min(x1+2,W-Rm-label.length*6.5);txt(svg,Math.max(L,lx),T-6,label,'start','band-label').setAttribute('fill',c);});
  if(o.kind==='stacked'){
    var base={},bw=Math.max(1,X(t0+(o.bucket||HOUR))-X(t0)-1);
    o.series.forEach(function(s){s.points.forEach(function(p){var b0=base[p[0]]||0;if(p[1]>0)
      el('rect',{x:X(p[0]),y:Y(b0+p[1]),width:bw,height:Math.max(0.5,Y(b0)-Y(b0+p[1])),fill:s.color,'class':'stack-bar','data-key':s.key},svg);
      base[p[0]]=b0+p[1];});});
  }else{
    o.series.forEach(function(s){var d='',prev=null;
      // A bucket's value is drawn at its middle, where its time span is.
      var mid=(o.bucket||HOUR)/2;
      s.points.forEach(function(p){var gap=prev===null||p[0]-prev>(o.bucket||HOUR);d+=(gap?'M':'L')+X(p[0]+mid).toFixed(1)+','+Y(p[1]).toFixed(1);prev=p[0];});
      el('path',{d:d,fill:'none',stroke:s.color,'stroke-width':1.8,'class':o.lineClass||'series-line','data-key':s.key},svg);
      if(s.points.length<3)s.points.forEach(function(p){el('circle',{cx:X(p[0]+mid),cy:Y(p[1]),r:2.5,fill:s.color},svg);});});
  }
  refs.forEach(function(r){el('line',{x1:L,x2:W-Rm,y1:Y(r.v),y2:Y(r.v),stroke:'#5c6670','stroke-dasharray':'5 4','class':'ref-line'},svg);
    txt(svg,W-Rm-2,Y(r.v)-4,r.label,'end');});
  el('line',{x1:L,x2:L,y1:T,y2:H-B,stroke:'#9aa5b5'},svg);el('line',{x1:L,x2:W-Rm,y1:H-B,y2:H-B,stroke:'#9aa5b5'},svg);
  host.appendChild(svg);return svg;
}
function legend(host,items){host.textContent='';items.forEach(function(it){var sp=document.createElement('span');var i=document.createElement('i');
  if(it.ref)i.className='ref';else i.style.background=it.color;sp.appendChild(i);sp.appendChild(document.createTextNode(it.label));host.appendChild(sp);});}
window.RK={chart:chart,legend:legend,int:int,pct:pct,minute:minute,second:second,duration:duration,niceStep:niceStep,yTicks:yTicks,tTicks:tTicks,KIND_COLORS:KIND_COLORS,COLORS:COLORS,HOUR:HOUR};
})();
"#
    };
}

/// The chart kit alone, for the dashboard (which adds its own script).
pub const CHARTS: &str = chart_kit!();

/// The page's one script (the chart kit, then the drawing of this
/// report), public so a server can allow it by hash in its
/// Content-Security-Policy.
pub const SCRIPT: &str = concat!(
    chart_kit!(),
    r#"
(function(){
var status=document.getElementById('render-status');
try{
var R=JSON.parse(document.getElementById('report-data').textContent),K=window.RK;
var MIN_VOLUME=20,TOP=6;
var bucket=({minute:60000,hour:3600000,day:86400000})[R.bucket]||3600000;
var pts=[];R.overall.forEach(function(p){pts.push(p.t);});R.series.forEach(function(s){s.points.forEach(function(p){pts.push(p.t);});});
var t0=Math.min.apply(null,pts),t1=Math.max.apply(null,pts)+bucket;
var incs=(R.incidents||[]).map(function(i,k){var c=Object.assign({},i);c.n=k+1;return c;});
var ac=R.alert_config||{};
var REF={bounce_rate:ac.bounce_rate,hard_bounce_rate:ac.hard_bounce_rate,deferral_rate:ac.deferral_rate,complaint_rate:ac.complaint_rate};
var NAMES={bounce_rate:'bounce rate',hard_bounce_rate:'hard bounce rate',deferral_rate:'deferral rate',block_rate:'block rate',auth_failure_rate:'auth failure rate',complaint_rate:'complaint rate'};
function nodata(id){var h=document.getElementById(id);h.textContent='no events in the window';}
// 1. Failed attempts by kind, stacked, over all traffic: hard and soft bounces and deferrals
// add up to the failure rate; blocks (a part of them) as a line.
function failures(){
  if(!pts.length)return nodata('failures-chart');
  var share=function(f){return R.overall.map(function(p){return [p.t,p.attempted?f(p)/p.attempted:0];});};
  var series=[{key:'hard bounces',color:'#b3261e',points:share(function(p){return p.hard;})},
    {key:'soft bounces',color:'#ef8a62',points:share(function(p){return p.soft;})},
    {key:'deferrals',color:'#f6c85f',points:share(function(p){return p.deferred;})}];
  var svg=K.chart(document.getElementById('failures-chart'),{kind:'stacked',series:series,t0:t0,t1:t1,bucket:bucket,y:'pct',
    yTitle:'% of attempts',bands:incs,refs:REF.bounce_rate?[{v:REF.bounce_rate,label:'bounce alert '+K.pct(REF.bounce_rate,0.01)}]:[]});
  var items=series.map(function(s){return {color:s.color,label:s.key};});
  items.push({ref:true,label:'alert threshold'});
  var kinds={};incs.forEach(function(i){kinds[i.kind]=1;});
  Object.keys(kinds).forEach(function(k){items.push({color:K.KIND_COLORS[k]||K.KIND_COLORS.other,label:'incident: '+k.replace('_',' ')});});
  K.legend(document.getElementById('failures-legend'),items);
}
// 2. One rate for the top providers by volume; it opens on the rate the incidents are about.
var KIND_METRIC={blocklist:'block_rate',reputation:'block_rate',authentication:'auth_failure_rate',rate_limiting:'deferral_rate',content:'bounce_rate',list_quality:'hard_bounce_rate',other:'bounce_rate'};
var metric='bounce_rate';
(function(){var votes={};incs.forEach(function(i){var m=KIND_METRIC[i.kind]||'bounce_rate';votes[m]=(votes[m]||0)+(i.state==='open'?1000:1)+i.events/1e9;});
  var best=0;for(var m in votes)if(votes[m]>best){best=votes[m];metric=m;}})();
var top=R.series.slice(0,TOP);
function rates(){
  if(!pts.length)return nodata('rates-chart');
  var series=top.map(function(s,k){return {key:s.key,color:K.COLORS[k%K.COLORS.length],
    points:s.points.filter(function(p){return p.attempted>=MIN_VOLUME;}).map(function(p){return [p.t,p.rates[metric]];})};});
  var refs=REF[metric]?[{v:REF[metric],label:NAMES[metric]+' alert '+K.pct(REF[metric],REF[metric]<0.01?0.001:0.01)}]:[];
  K.chart(document.getElementById('rates-chart'),{kind:'lines',series:series,t0:t0,t1:t1,bucket:bucket,y:'pct',yTitle:NAMES[metric]+', % of attempts'+(metric==='complaint_rate'?' accepted':''),bands:incs,refs:refs});
  var items=series.map(function(s){return {color:s.color,label:s.key};});if(refs.length)items.push({ref:true,label:'alert threshold'});
  K.legend(document.getElementById('rates-legend'),items);
  document.querySelectorAll('[data-metric-btn]').forEach(function(b){b.classList.toggle('on',b.getAttribute('data-metric-btn')===metric);});
  document.getElementById('rates-chart').setAttribute('data-metric',metric);
}
document.querySelectorAll('[data-metric-btn]').forEach(function(b){b.addEventListener('click',function(){metric=b.getAttribute('data-metric-btn');rates();});});
// 3. Attempts per bucket, same providers.
function volume(){
  if(!pts.length)return nodata('volume-chart');
  var series=top.map(function(s,k){return {key:s.key,color:K.COLORS[k%K.COLORS.length],points:s.points.map(function(p){return [p.t,p.attempted];})};});
  K.chart(document.getElementById('volume-chart'),{kind:'lines',series:series,t0:t0,t1:t1,bucket:bucket,y:'int',yTitle:'attempts per '+R.bucket});
}
function bars(id,rows,cls){
  var host=document.getElementById(id);host.textContent='';
  if(!rows.length){host.textContent='no failures';return;}
  var W=Math.max(280,Math.min(1360,host.clientWidth||900)),narrow=W<600,rowH=narrow?36:22,H=rows.length*rowH+6;
  var L=narrow?0:Math.min(420,Math.round(W*0.42)),barW=(narrow?W:W-L-8)-110,NS='http://www.w3.org/2000/svg';
  var svg=document.createElementNS(NS,'svg');svg.setAttribute('width',W);svg.setAttribute('height',H);svg.setAttribute('viewBox','0 0 '+W+' '+H);
  var max=0;rows.forEach(function(r){max=Math.max(max,r[1]);});max=max||1;
  var chars=Math.floor((narrow?W:L-8)/6.2);
  rows.forEach(function(r,i){var y=3+i*rowH,w=Math.max(1,barW*r[1]/max),bx=narrow?0:L;
    var t=document.createElementNS(NS,'text');t.setAttribute('x',narrow?0:L-8);t.setAttribute('y',y+13);t.setAttribute('text-anchor',narrow?'start':'end');
    t.textContent=r[0].length>chars?r[0].slice(0,chars-1)+'…':r[0];var tt=document.createElementNS(NS,'title');tt.textContent=r[0];t.appendChild(tt);svg.appendChild(t);
    var by=narrow?y+17:y+2,b=document.createElementNS(NS,'rect');b.setAttribute('x',bx);b.setAttribute('y',by);b.setAttribute('width',w);b.setAttribute('height',14);
    b.setAttribute('fill',K.COLORS[(r[2]||0)%K.COLORS.length]);b.setAttribute('class',cls);svg.appendChild(b);
    var v=document.createElementNS(NS,'text');v.setAttribute('x',bx+w+6);v.setAttribute('y',by+12);v.textContent=K.int(r[1])+(r[3]?'  '+r[3]:'');svg.appendChild(v);});
  host.appendChild(svg);
}
function draw(){
  failures();rates();volume();
  var total=R.reasons.reduce(function(a,r){return a+r[1];},0)||1;
  bars('reasons-chart',R.reasons.slice(0,15).map(function(r,i){return [r[0],r[1],i,K.pct(r[1]/total)];}),'reason-bar');
  var prow=[];R.top_patterns.forEach(function(p,k){p.patterns.slice(0,3).forEach(function(x){prow.push([p.provider+': '+x.pattern,x.count,k,K.pct(x.share)]);});});
  bars('patterns-chart',prow,'pattern-bar');
}
draw();
var lastW=window.innerWidth;
window.addEventListener('resize',function(){if(window.innerWidth!==lastW){lastW=window.innerWidth;draw();}});
// How wide the page lays out against the viewport (nothing should stick out).
document.body.setAttribute('data-scroll-width',String(document.documentElement.scrollWidth));
document.body.setAttribute('data-viewport-width',String(window.innerWidth));
document.body.setAttribute('data-rendered','ok');
status.textContent='rendered';
}catch(e){status.textContent='error: '+e;document.body.setAttribute('data-rendered','error');if(window.console)console.error(e);}
})();
"#
);

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

/// `2026-11-02 08:00` (UTC, as the page header says).
fn minute(ms: i64) -> String {
    let s = format_rfc3339(ms);
    match s.get(..16) {
        Some(head) if s.ends_with('Z') => head.replacen('T', " ", 1),
        _ => s,
    }
}

/// `s` cut to `n` characters with an ellipsis.
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut o: String = s.chars().take(n.saturating_sub(1)).collect();
        o.push('…');
        o
    }
}

fn names(v: &[(String, u64)]) -> String {
    v.iter()
        .map(|x| x.0.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The colour of an incident kind (the same as the chart kit's).
fn kind_colour(kind: &str) -> &'static str {
    match kind {
        "blocklist" => "#8e24aa",
        "reputation" => "#c62828",
        "authentication" => "#ef6c00",
        "rate_limiting" => "#1565c0",
        "content" => "#6d4c41",
        "list_quality" => "#2e7d32",
        _ => "#546e7a",
    }
}

/// Renders the report as a self-contained HTML page.
pub fn page(r: &Report) -> String {
    use crate::render::{duration, thousands};
    let json = embeddable_json(&serde_json::to_string(r).unwrap_or_else(|_| "{}".into()));
    let t = |ms: Option<i64>| ms.map(minute).unwrap_or_else(|| "-".into());
    let mut h = String::with_capacity(json.len() + 64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Rebound delivery report</title>\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{STYLE}</style></head>\
<body data-rendered=\"no\"><header><h1>Delivery report</h1><p>{} events from {} to {} UTC · by {} · {} buckets</p></header><main>",
        thousands(r.events),
        esc(&t(r.first_event_ms)),
        esc(&t(r.last_event_ms)),
        r.by.as_str(),
        r.bucket.as_str()
    );
    // Alerts first: what is over its line, before the overview.
    let _ = write!(
        h,
        "<section id=\"alerts\"><h2>Alerts ({})</h2><div class=\"scroll\"><table><tr><th>scope</th><th>key</th><th>metric</th>\
<th class=\"num\">value</th><th class=\"num\">threshold</th><th class=\"num\">attempts</th><th>since (UTC)</th></tr>",
        r.alerts.len()
    );
    for a in &r.alerts {
        let _ = write!(
            h,
            "<tr class=\"alert-row\"><td>{}</td><td>{}</td><td>{}</td><td class=\"num open\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"t\">{}</td></tr>",
            a.scope.as_str(),
            esc(&a.key),
            a.metric.as_str().replace('_', " "),
            pct(a.value),
            pct(a.threshold),
            thousands(a.attempts),
            esc(&minute(a.since_ms))
        );
    }
    if r.alerts.is_empty() {
        h.push_str("<tr><td colspan=\"7\">none</td></tr>");
    }
    h.push_str("</table></div></section>");
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
        thousands(c.attempted),
        thousands(c.delivered),
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
        "<section><h2>Failed attempts by kind</h2><div class=\"chart\" id=\"failures-chart\"></div>\
<div class=\"legend\" id=\"failures-legend\"></div>\
<p class=\"note\">All traffic, per {bucket}: hard and soft bounces and deferrals stacked (their sum is the failure rate). \
Bands: incidents, numbered as in the table below.</p></section>\
<section><h2>Rates of the top providers by volume</h2><div>\
<button class=\"btn\" data-metric-btn=\"bounce_rate\">bounce</button>\
<button class=\"btn\" data-metric-btn=\"hard_bounce_rate\">hard bounce</button>\
<button class=\"btn\" data-metric-btn=\"deferral_rate\">deferral</button>\
<button class=\"btn\" data-metric-btn=\"block_rate\">block</button>\
<button class=\"btn\" data-metric-btn=\"auth_failure_rate\">auth failure</button>\
<button class=\"btn\" data-metric-btn=\"complaint_rate\">complaint</button></div>\
<div class=\"chart\" id=\"rates-chart\"></div><div class=\"legend\" id=\"rates-legend\"></div>\
<p class=\"note\">The {by} values with the most attempts; a {bucket} with fewer than 20 attempts is left out \
(one failure in three attempts is not a 33% rate). Dashed: the alert threshold.</p></section>\
<section><h2>Attempts</h2><div class=\"chart\" id=\"volume-chart\"></div></section>",
        bucket = r.bucket.as_str(),
        by = r.by.as_str()
    );
    h.push_str(
        "<section id=\"incidents\"><h2>Incidents</h2><div class=\"scroll\"><table class=\"cards\"><tr class=\"head\"><th class=\"num\">#</th><th>kind</th>\
<th>provider</th><th>owner</th><th>pattern</th><th>scope</th><th>detected (UTC)</th><th class=\"num\">duration</th>\
<th>first action</th></tr>",
    );
    for (k, i) in r.incidents.iter().enumerate() {
        let mut scope = Vec::new();
        if let Some(b) = &i.blocklist {
            scope.push(if b.assets.is_empty() {
                format!("listed on {}: the sending {}", b.list, b.listed)
            } else {
                format!("listed on {}: {}", b.list, b.assets.join(", "))
            });
        }
        for (what, v) in [
            ("IPs", &i.ips),
            ("domains", &i.domains),
            ("campaigns", &i.campaigns),
        ] {
            if !v.is_empty() {
                scope.push(format!("{what}: {}", names(v)));
            }
        }
        if i.providers.len() > 1 {
            scope.push(format!("providers: {}", names(&i.providers)));
        }
        let end = i.closed_ms.unwrap_or(i.last_seen_ms);
        let state = if i.closed_ms.is_some() {
            format!("closed {}", minute(end))
        } else {
            "still open".to_string()
        };
        let samples: String = i
            .samples
            .iter()
            .map(|s| format!("<code>{}</code>", esc(s)))
            .collect();
        let pattern = format!("{} {}", i.family, i.pattern);
        let _ = write!(
            h,
            "<tr class=\"incident-row\"><td class=\"num\">{}</td><td><span class=\"chip\" style=\"background:{}\">{}</span><br>\
<span class=\"{}\">{}</span></td><td data-label=\"provider\">{}</td><td data-label=\"owner\">{}</td>\
<td class=\"wrap\" data-label=\"pattern\"><code title=\"{}\">{}</code></td><td class=\"wrap\" data-label=\"scope\">{}</td>\
<td class=\"t\" data-label=\"detected\">{}<br><span class=\"muted\">first seen {}</span></td><td class=\"num\" data-label=\"duration\">{}</td>\
<td class=\"wrap\" data-label=\"first action\">{}<details><summary>{} events; replies as received</summary>{}</details></td></tr>",
            k + 1,
            kind_colour(i.kind.as_str()),
            i.kind.as_str().replace('_', " "),
            if i.closed_ms.is_some() {
                "closed"
            } else {
                "open"
            },
            esc(&state),
            esc(&i.provider),
            esc(&i.owner.replace('_', " ")),
            esc(&pattern),
            esc(&cut(&pattern, 90)),
            esc(&scope.join("; ")),
            esc(&minute(i.opened_ms)),
            esc(&minute(i.first_seen_ms)),
            duration(end - i.first_seen_ms),
            esc(&i.action),
            thousands(i.events),
            samples
        );
    }
    if r.incidents.is_empty() {
        h.push_str("<tr><td colspan=\"9\">none</td></tr>");
    }
    h.push_str("</table></div></section>");
    let _ = write!(
        h,
        "<section><h2>Rates by {}</h2><div class=\"scroll\"><table><tr><th>{}</th><th class=\"num\">attempted</th>\
<th class=\"num\">accepted</th><th class=\"num\">bounce</th><th class=\"num\">hard</th><th class=\"num\">soft</th>\
<th class=\"num\">deferral</th><th class=\"num\">block</th><th class=\"num\">auth</th><th class=\"num\">complaint</th></tr>",
        r.by.as_str(),
        r.by.as_str()
    );
    for g in r.groups.iter().chain(std::iter::once(&r.totals)) {
        let (c, rt) = (&g.counts, &g.rates);
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(&g.key),
            thousands(c.attempted),
            thousands(c.delivered),
            pct(rt.bounce_rate),
            pct(rt.hard_bounce_rate),
            pct(rt.soft_bounce_rate),
            pct(rt.deferral_rate),
            pct(rt.block_rate),
            pct(rt.auth_failure_rate),
            pct(rt.complaint_rate)
        );
    }
    h.push_str("</table></div></section>");
    h.push_str(
        "<section><h2>Failed attempts by reason</h2><div class=\"chart\" id=\"reasons-chart\"></div></section>\
<section><h2>Top patterns per provider</h2><div class=\"chart\" id=\"patterns-chart\"></div></section>",
    );
    let _ = writeln!(
        h,
        "</main><footer>Rebound · times in UTC · <span id=\"render-status\">not drawn yet</span></footer>\
<script type=\"application/json\" id=\"report-data\">{json}</script><script>{SCRIPT}</script></body></html>"
    );
    h
}
