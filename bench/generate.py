"""Deterministic generator of realistic staff ledgers at any size (import-template CSVs).

    python bench/generate.py --disbursements 1000000 --out /tmp/ledgers

writes 01_registry.csv (居民名册), 02_disbursements.csv (救助发放), 03_visits.csv (走访记录),
04_elections.csv and 05_candidates.csv for a district of communities over several years.
Same arguments, same bytes. Streams rows, so memory stays flat whatever the size.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the ingest package is beside bench/
    sys.path.insert(0, str(ROOT))

from ingest.validators import PROGRAMS, make_id_number  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红建国建华志强文辉海燕春梅晓东德明永胜"
CATEGORIES = ["低保", "特困", "残疾", "军属", "烈属", "空巢老人", "困难户", "重病", "刑满释放"]
CATEGORY_WEIGHTS = [10, 2, 8, 2, 0.3, 6, 5, 3, 0.5]
METHODS = ["现金", "实物", "购物券", "转账"]
EDUCATION = ["研究生", "大学本科", "大专", "中专", "高中", "初中", "小学"]
PARTY = ["中共党员", "中共预备党员", "共青团员", "群众", "民主党派"]
REGISTRY_HEADER = ["社区", "户号", "姓名", "身份证号", "出生日期", "联系电话", "住址", "人员类别"]
DISBURSEMENT_HEADER = ["发放日期", "社区", "户号", "姓名", "身份证号", "项目", "方式", "物品", "金额(元)", "经办人"]
VISIT_HEADER = ["走访日期", "社区", "姓名", "身份证号", "走访人", "事由"]
ELECTION_HEADER = ["社区", "届次", "选举日期", "选举方式", "户数", "登记选民数", "参加投票人数", "有效票数", "应选名额"]
CANDIDATE_HEADER = ["社区", "届次", "轮次", "姓名", "性别", "出生日期", "文化程度", "政治面貌", "得票数", "是否当选",
                    "职务"]


def community_names(n):
    first = "东西南北中新兴和安康平福春秋金银华丰泰宁清明永长"
    second = "风苑湖山河园林桥门坊城岭港湾街台塘"
    names = []
    for i in range(n):
        names.append(first[i % len(first)] + second[(i // len(first)) % len(second)]
                     + (str(i // (len(first) * len(second)) + 1) if i >= len(first) * len(second) else "")
                     + "社区")
    return names


def person(rng, index, communities):
    community = communities[index % len(communities)]
    birth = datetime.date(1925, 1, 1) + datetime.timedelta(days=rng.randrange(0, 365 * 85))
    seq = f"{index % 1000:03d}"
    region = f"5{(index // 1000) % 100000:05d}"
    id_number = make_id_number(region, birth.strftime("%Y%m%d"), seq)
    name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
    cats = sorted({c for c in rng.choices(CATEGORIES, CATEGORY_WEIGHTS, k=rng.choice((0, 0, 1, 1, 2)))})
    household = f"H{index // 3:07d}"
    return {"社区": community, "户号": household, "姓名": name, "身份证号": id_number,
            "出生日期": birth.isoformat(), "联系电话": f"139{index:08d}"[-11:],
            "住址": f"{community[:2]}小区{index % 40 + 1}栋{index % 6 + 1}单元{index % 30 + 101}号",
            "人员类别": "、".join(cats)}


def write_csv(path, header, rows):
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        count = 0
        for row in rows:
            out.writerow([row.get(h, "") for h in header])
            count += 1
    return count


def generate(out: Path, disbursements: int, persons: int | None = None, communities: int = 30,
             years: int = 10, seed: int = 2012, visits_ratio: float = 0.2):
    if years < 1 or years > 100:
        raise ValueError(f"years must be between 1 and 100, not {years}")
    if communities < 1:
        raise ValueError(f"communities must be at least 1, not {communities}")
    if disbursements < 0 or (persons is not None and persons < 1):
        raise ValueError("disbursements must be >= 0 and persons >= 1")
    out.mkdir(parents=True, exist_ok=True)
    persons = persons or max(50, disbursements // 25)
    names = community_names(communities)
    rng = random.Random(seed)
    # Only what the payments and visits need is kept per person (not the whole row), so a
    # registry of millions stays small in memory; the rows are streamed to the file.
    registry = []

    def residents():
        for i in range(persons):
            p = person(rng, i, names)
            registry.append((p["社区"], p["户号"], p["姓名"], p["身份证号"]))
            yield p
    write_csv(out / "01_registry.csv", REGISTRY_HEADER, residents())
    programs = list(PROGRAMS)
    first_year = 2026 - years

    def payments():
        r = random.Random(seed + 1)
        for _ in range(disbursements):
            community, household, name, id_number = registry[r.randrange(persons)]
            day = datetime.date(first_year, 1, 1) + datetime.timedelta(days=r.randrange(365 * years))
            program = programs[r.randrange(len(programs))]
            goods = r.random() < 0.15
            yield {"发放日期": day.isoformat(), "社区": community, "户号": household, "姓名": name,
                   "身份证号": id_number, "项目": program, "方式": "实物" if goods else r.choice(METHODS),
                   "物品": "米、油" if goods else "",
                   "金额(元)": "" if goods and r.random() < 0.3 else f"{r.randrange(50, 3000)}.{r.randrange(100):02d}",
                   "经办人": "张娟"}
    write_csv(out / "02_disbursements.csv", DISBURSEMENT_HEADER, payments())

    def visits():
        r = random.Random(seed + 2)
        for _ in range(int(disbursements * visits_ratio)):
            community, _household, name, id_number = registry[r.randrange(persons)]
            day = datetime.date(first_year, 1, 1) + datetime.timedelta(days=r.randrange(365 * years))
            yield {"走访日期": day.isoformat(), "社区": community, "姓名": name, "身份证号": id_number,
                   "走访人": "渝蓉", "事由": r.choice(["入户走访", "节日慰问", "回访"])}
    write_csv(out / "03_visits.csv", VISIT_HEADER, visits())

    r = random.Random(seed + 3)
    elections, candidates = [], []
    for community in names:
        # One election every three years; a span shorter than three years still has one.
        for term in range(1, max(1, years // 3) + 1):
            households = r.randrange(800, 3600)
            seats = 3 if households <= 1500 else 5 if households <= 2000 else 7 if households <= 3000 else 9
            voters = households * 2
            ballots = int(voters * r.uniform(0.55, 0.95))
            held = datetime.date(first_year + 3 * (term - 1), 3, r.randrange(1, 28))
            elections.append({"社区": community, "届次": term, "选举日期": held.isoformat(),
                              "选举方式": "直接选举", "户数": households, "登记选民数": voters,
                              "参加投票人数": ballots, "有效票数": ballots, "应选名额": seats})
            for k in range(seats + 1):
                birth = held - datetime.timedelta(days=r.randrange(365 * 25, 365 * 65))
                elected = k < seats
                candidates.append({
                    "社区": community, "届次": term, "轮次": 1,
                    "姓名": r.choice(SURNAMES) + r.choice(GIVEN) + r.choice(GIVEN),
                    "性别": "女" if k == 0 or r.random() < 0.4 else "男", "出生日期": birth.isoformat(),
                    "文化程度": r.choice(EDUCATION), "政治面貌": r.choice(PARTY),
                    "得票数": ballots // 2 + 1 + r.randrange(ballots // 2 - 1) if elected else r.randrange(ballots // 3),
                    "是否当选": "是" if elected else "否",
                    "职务": ("主任" if k == 0 else "委员") if elected else ""})
    write_csv(out / "04_elections.csv", ELECTION_HEADER, elections)
    write_csv(out / "05_candidates.csv", CANDIDATE_HEADER, candidates)
    return {"persons": persons, "disbursements": disbursements,
            "visits": int(disbursements * visits_ratio), "elections": len(elections)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--disbursements", type=int, default=100_000)
    parser.add_argument("--persons", type=int, default=None)
    parser.add_argument("--communities", type=int, default=30)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2012)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(generate(args.out, args.disbursements, args.persons, args.communities, args.years, args.seed))


if __name__ == "__main__":
    main()
