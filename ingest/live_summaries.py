"""The summaries of summaries.md as plain SQL over the raw rows: their definitions.

The stored queries read the aggregate tables (ingest/aggregates.py); these scan the
payments, visits and registry directly - slow at district scale, independent of the
aggregates. `shequ check --deep` and the tests compare the two.
"""

# The payments of a year and a community (blank: all), with their programme.
PAYMENTS = """from disbursements d
join programs pr on pr.id = d.program_id
where (:year = '' or d.paid_on between :year || '-01-01' and :year || '-12-31')
  and (:community = '' or d.community_id = (select id from communities where name = :community))
"""

LIVE = {
    "relief_by_category": f"""
select pr.category as category,
       count(*) as payments,
       count(distinct d.person_id) as recipients,
       round(coalesce(sum(d.amount_fen), 0) / 100.0, 2) as total_yuan
{PAYMENTS}group by pr.category
order by pr.category
""",
    "relief_by_program": f"""
select pr.name as program,
       pr.category as category,
       count(*) as payments,
       count(distinct d.person_id) as recipients,
       round(coalesce(sum(d.amount_fen), 0) / 100.0, 2) as total_yuan
{PAYMENTS}group by pr.id
order by pr.name
""",
    "relief_by_month": f"""
select substr(d.paid_on, 1, 7) as month,
       pr.category as category,
       count(*) as payments,
       round(coalesce(sum(d.amount_fen), 0) / 100.0, 2) as total_yuan
{PAYMENTS}group by month, pr.category
order by month, pr.category
""",
    "relief_by_community": """
select c.name as community,
       count(*) as payments,
       count(distinct d.person_id) as recipients,
       round(coalesce(sum(d.amount_fen), 0) / 100.0, 2) as total_yuan
from disbursements d
join communities c on c.id = d.community_id
where (:year = '' or d.paid_on between :year || '-01-01' and :year || '-12-31')
group by c.id
order by c.name
""",
    "coverage": """
with grp(group_name, ord) as (
  values ('低保', 1), ('特困', 2), ('残疾', 3), ('高龄', 4), ('军烈属', 5), ('空巢老人', 6)
),
scope as (
  select p.id, p.birth_date from persons p
  where (:community = '' or p.community_id = (select id from communities where name = :community))
    and not exists (
      select 1 from deaths x where x.person_id = p.id
        and (:year = '' or x.died_on < :year || '-01-01'))
),
members(group_name, person_id) as (
  select case when pc.category in ('军属', '烈属', '现役军人') then '军烈属' else pc.category end, s.id
  from scope s join person_categories pc on pc.person_id = s.id
  where pc.category in ('低保', '特困', '残疾', '空巢老人', '军属', '烈属', '现役军人')
  union
  select '高龄', s.id from scope s
  where s.birth_date <= (coalesce(nullif(:year, ''), strftime('%Y', 'now')) - 80) || '-12-31'
),
flags as (
  select m.group_name,
         exists (select 1 from visits v where v.person_id = m.person_id
                 and (:year = '' or v.visited_on between :year || '-01-01' and :year || '-12-31')) as visited,
         exists (select 1 from disbursements d where d.person_id = m.person_id
                 and (:year = '' or d.paid_on between :year || '-01-01' and :year || '-12-31')) as assisted
  from members m
)
select g.group_name as group_name,
       count(f.group_name) as registered,
       coalesce(sum(f.visited), 0) as visited,
       coalesce(sum(f.assisted), 0) as assisted,
       coalesce(round(1.0 * sum(f.visited) / nullif(count(f.group_name), 0), 4), 0.0) as visit_rate,
       coalesce(round(1.0 * sum(f.assisted) / nullif(count(f.group_name), 0), 4), 0.0) as assist_rate
from grp g left join flags f on f.group_name = g.group_name
group by g.ord
order by g.ord
""",
}


def compare(conn, queries: dict, years=None, communities=None) -> list[str]:
    """Run every summary both ways (stored query `queries[name]["sql"]`, and LIVE) for every
    year with data and all years, every community and all communities; describe each
    difference in Chinese."""
    if years is None:
        years = [""] + [r[0] for r in conn.execute(
            "SELECT DISTINCT substr(paid_on, 1, 4) FROM disbursements"
            " UNION SELECT DISTINCT substr(visited_on, 1, 4) FROM visits ORDER BY 1")]
    if communities is None:
        communities = [""] + [r[0] for r in conn.execute("SELECT name FROM communities ORDER BY name")]
    problems = []
    for name, live in LIVE.items():
        for year in years:
            for community in communities:
                params = {"year": year, "community": community}
                ours = conn.execute(queries[name]["sql"], params).fetchall()
                theirs = conn.execute(live, params).fetchall()
                if ours != theirs:
                    problems.append(f"{name}（年份「{year}」社区「{community}」）：汇总表得 {ours}，"
                                    f"按原始数据计算得 {theirs}")
    return problems
