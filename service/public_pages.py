"""Server-rendered pages of what is disclosed (绩效信息公开): plain HTML, Chinese, no script.

Everything shown is escaped; the pages read the same `Disclosure` models as the JSON API, so
nothing can appear here that the whitelist there does not carry.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote, urlencode

from service.disclosure import KIND_ZH, Disclosure, DisclosureKind, DisclosurePage

_STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2rem auto;
max-width:60rem;padding:0 1rem;line-height:1.6;color:#1a1a1a}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #999;padding:.3rem .5rem;
text-align:left;vertical-align:top}caption{text-align:left;font-weight:bold}
a{color:#0645ad}a:focus,input:focus,select:focus,button:focus{outline:3px solid #e8a400}
form{margin:1rem 0}label{margin-right:1rem}
"""


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body><header><p><a href="/public/">绩效信息公开</a></p></header>'
        f'<main id="main"><h1>{escape(title)}</h1>{body}</main></body></html>'
    )


def _amount(value: object) -> str:
    return "—" if value is None else f"{float(str(value)):,.2f} 元"


def _summary(d: Disclosure) -> str:
    if d.goals is not None:
        return f"批复预算 {_amount(d.approved_amount)}；绩效指标 {len(d.goals)} 项"
    if d.self_evaluation is not None:
        s = d.self_evaluation
        return f"自评得分 {s.score}，等级“{s.grade_zh}”"
    if d.finance_evaluation is not None:
        f = d.finance_evaluation
        return f"财政评价得分 {f.score}，等级“{f.grade_zh}”；结果应用：{f.consequence_zh}"
    if d.purchased_service is not None:
        p = d.purchased_service
        return (
            f"评价机构：{p.evaluator}；评价标准：{p.standard}；"
            f"评价结果：得分 {p.score}，等级“{p.grade_zh}”"
        )
    return d.notice or ""


def index_page(page: DisclosurePage, *, year: int | None, kind: DisclosureKind | None) -> str:
    options = "".join(
        f'<option value="{k.value}"{" selected" if k is kind else ""}>{escape(KIND_ZH[k])}</option>'
        for k in DisclosureKind
    )
    form = (
        '<form method="get" action="/public/">'
        f'<label>年度 <input type="number" name="year" min="2000" max="2200" '
        f'value="{year if year is not None else ""}"></label>'
        f'<label>类别 <select name="kind"><option value="">全部</option>{options}</select></label>'
        '<button type="submit">查询</button></form>'
    )
    rows = "".join(
        "<tr>"
        f"<td>{d.fiscal_year}</td>"
        f"<td>{escape(d.department_name)}</td>"
        f'<td><a href="/public/projects/{quote(d.project_code, safe="")}">'
        f"{escape(d.project_name)}</a></td>"
        f"<td>{escape(d.kind_zh)}</td>"
        f"<td>{escape(_summary(d))}</td>"
        "</tr>"
        for d in page.items
    )
    table = (
        "<table><caption>共 {total} 条</caption><thead><tr><th scope=col>年度</th>"
        "<th scope=col>部门</th><th scope=col>项目</th><th scope=col>类别</th>"
        "<th scope=col>内容</th></tr></thead><tbody>{rows}</tbody></table>"
    ).format(total=page.total, rows=rows or '<tr><td colspan="5">暂无公开信息</td></tr>')
    pager = ""
    if page.page * page.page_size < page.total:
        query: dict[str, str | int] = {"page": page.page + 1, **({"year": year} if year else {})}
        if kind is not None:
            query["kind"] = kind.value
        pager = f'<p><a href="/public/?{escape(urlencode(query))}">下一页</a></p>'
    return _page("预算绩效信息公开", form + table + pager)


def project_page(code: str, items: list[Disclosure]) -> str:
    if not items:
        return _page(f"项目 {code}", "<p>暂无公开信息。</p>")
    first = items[0]
    parts = [
        f"<p>部门：{escape(first.department_name)}；项目编号：{escape(first.project_code)}</p>"
    ]
    for d in items:
        parts.append(f"<section><h2>{d.fiscal_year} 年度 · {escape(d.kind_zh)}</h2>")
        parts.append(f"<p>{escape(_summary(d))}</p>")
        if d.goals:
            rows = "".join(
                f"<tr><td>{escape(i.code)}</td><td>{escape(i.name)}</td>"
                f"<td>{escape(i.operator)} {escape(i.target or '')} {escape(i.unit)}</td>"
                f"<td>{i.weight}</td></tr>"
                for i in d.goals
            )
            parts.append(
                "<table><caption>绩效指标</caption><thead><tr><th scope=col>编码</th>"
                "<th scope=col>指标</th><th scope=col>目标值</th><th scope=col>权重</th>"
                f"</tr></thead><tbody>{rows}</tbody></table>"
            )
        if d.finance_evaluation and d.finance_evaluation.cut_applies_to:
            f = d.finance_evaluation
            parts.append(f"<p>{f.cut_applies_to} 年度预算压减 {f.cut_percent}%。</p>")
        parts.append(f"<p><small>公开时间：{d.published_at:%Y-%m-%d}</small></p></section>")
    return _page(f"{first.project_name}", "".join(parts))
