#!/usr/bin/env python3
"""生成 shequ 的示例台账（确定性：固定随机种子，仅用标准库）。

运行：python sample/make_sample.py
输出写到本脚本所在目录（sample/），UTF-8 带 BOM，首行为模板的中文表头：

  01_programs.csv       项目表：示例需要的一个额外项目（双拥慰问 → 双拥）
  02_registry.csv       居民名册：跃华社区（篇1）的全部人员
  03_disbursements.csv  救助发放：2012 年
  04_visits.csv         走访记录：2012 年
  05_dibao.csv          低保名册
  06_deaths.csv         殡葬
  07_elections.csv      选举：篇10 的 26 个社区，第 8 届
  08_candidates.csv     候选人：上述 26 次选举

数据还原 shared/seed 里篇1、篇10 的数字（见 shared/spec/seed-figures.md）；
人物除报告点名者外均为虚构，身份证号行政区划码用不存在的 500199，
手机号为 1380000xxxx。各项建模取舍写在 sample/README.md。
报告自相矛盾之处以总数为准（见下方注释与 README）。
"""
from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

SEED = 20121231
HERE = Path(__file__).resolve().parent
COMMUNITY = "跃华社区"
YEAR = 2012
REGION = "500199"  # 不存在的区县代码：明显虚构
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"

STAFF = ["王嘉陵", "吴通元", "渝蓉", "张娟"]  # 报告篇1 点名的社区工作人员（经办人/走访人）
REAL_NAMES = ["陈宸", "高中良", "樊国建", "王俊杰", "何萍", "张永凤", "邓华兵", "夏光碧",
              "邹康容", "曾秀荣", "侯正林", "黄觊", "莫什哈布", "莫什伟书", "陈世海", "刘健",
              "谢业琴", "何兴顺", "龚世和", "曾治庸", "李富仁"]

# 不含“陈”：后续测试按“陈”搜索，只应找到陈宸、陈世海。
SURNAMES = list("王李张刘杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
                "蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱"
                "江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万严覃戴孔向汤冉母文晏")
OLD_M = list("国建华明强军平伟勇忠林峰德文海斌刚志永春成庆福云胜祥兵涛波东贵光世和兴顺富仁良中健康洪全发开学友清树")
OLD_F = list("秀英华兰芳玉珍琴萍丽红敏燕霞梅桂凤蓉琼容碧莉娟静素淑惠艳群翠菊琳")
YOUNG_M = list("浩宇杰鑫轩博睿航晨俊豪磊鹏川渝凯然阳帆毅")
YOUNG_F = list("欣怡雨佳婷梦思琪涵悦雪倩瑶璐薇妍月露")

rng = random.Random(SEED)


# ---------------------------------------------------------------- helpers
def check_char(body17: str) -> str:
    return CHECK_CHARS[sum(int(c) * w for c, w in zip(body17, WEIGHTS)) % 11]


def money(x) -> str:
    return "" if x is None else f"{Decimal(x):.2f}"


def age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


used_names: set[str] = set(REAL_NAMES) | set(STAFF)
used_ids: set[str] = set()
_phones = iter(rng.sample(range(10000), 10000))
_addresses = iter(rng.sample([(b, u, f * 100 + r) for b in range(1, 19) for u in (1, 2, 3)
                              for f in range(1, 8) for r in (1, 2)], 18 * 3 * 7 * 2))


def new_name(male: bool, birth_year: int) -> str:
    young = birth_year >= 1985
    pool = (YOUNG_M if male else YOUNG_F) if young else (OLD_M if male else OLD_F)
    while True:
        g = "".join(rng.choice(pool) for _ in range(rng.choice((1, 2, 2, 2))))
        if len(g) == 2 and g[0] == g[1]:
            continue
        name = rng.choice(SURNAMES) + g
        if name in used_names or "陈" in name:
            continue
        used_names.add(name)
        return name


def make_id(birth: date, male: bool) -> str:
    while True:
        body = f"{REGION}{birth:%Y%m%d}{rng.randint(0, 99):02d}" \
               f"{rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))}"
        if body not in used_ids:
            used_ids.add(body)
            return body + check_char(body)


def birth_for_age(age: int) -> date:
    """A birth date giving `age` full years on 2012-12-31."""
    y = YEAR - age
    return date(y, 1, 1) + timedelta(days=rng.randint(0, 364))


# ---------------------------------------------------------------- registry
households: list[dict] = []
persons: list[dict] = []


def new_hh() -> dict:
    b, u, room = next(_addresses)
    hh = {"no": f"YH{len(households) + 1:04d}", "addr": f"跃华小区{b}栋{u}单元{room}号",
          "members": []}
    households.append(hh)
    return hh


def add(hh, *, name=None, male=None, age=None, birth=None, cats=(), grade="", note="",
        tags=(), hide_birth=False) -> dict:
    if male is None:
        male = rng.random() < 0.5
    if birth is None:
        birth = birth_for_age(age)
    a = YEAR - birth.year
    if "高龄" in tags:
        assert a >= 80, name
    else:
        assert a <= 79, (name, a)  # 只有那 39 人在 2012-12-31 满 80 岁
    if name is None:
        name = new_name(male, birth.year)
    p = {"hh": hh["no"], "addr": hh["addr"], "name": name, "male": male, "birth": birth,
         "id": make_id(birth, male), "cats": list(cats), "grade": grade, "note": note,
         "tags": set(tags), "hide_birth": hide_birth,
         "phone": f"1380000{next(_phones):04d}" if a >= 16 else ""}
    hh["members"].append(p)
    persons.append(p)
    return p


def spouse(hh, p, *, cats=(), tags=(), note="", age=None) -> dict:
    a = YEAR - p["birth"].year
    if age is None:
        age = a + (rng.randint(-6, 2) if p["male"] else rng.randint(-2, 6))
        age = max(22, age if a >= 80 else min(79, age))
    return add(hh, male=not p["male"], age=age, cats=cats, tags=tags, note=note)


def child(hh, parent_age, *, min_age=1, max_age=79, cats=(), tags=()) -> dict | None:
    age = parent_age - rng.randint(23, 33)
    age = min(age, max_age)
    if age < min_age:
        return None
    return add(hh, age=age, cats=cats, tags=tags)


def family(hh, head, *, p_spouse=0.75, kids=(0, 2)):
    a = YEAR - head["birth"].year
    if rng.random() < p_spouse:
        spouse(hh, head)
    for _ in range(rng.randint(*kids)):
        if a < 45 or rng.random() < 0.4:  # older couples' children mostly live elsewhere
            child(hh, a)


def grade_for(p_one=0.25) -> str:
    return "一级" if rng.random() < p_one else rng.choice(("二级", "三级", "三级", "四级", "四级"))


# --- 低保户 45 户 70 人：当前 18 户 25 人（C0–C17），2012 年内停保 27 户 45 人（E0–E26）
#     C0 三人渐退，C1–C4 两人渐退，C5 两人在保，C6–C17 单人在保；E0–E2 三人，E3–E14 两人，E15–E26 单人
DB_SIZES = [3, 2, 2, 2, 2, 2] + [1] * 12 + [3] * 3 + [2] * 12 + [1] * 12
DB_KEYS = [f"C{i}" for i in range(18)] + [f"E{i}" for i in range(27)]
DB_DISABLED = {"C5", "C6", "C7", "C8", "C9", "E0", "E3", "E4", "E5", "E6", "E15", "E16", "E17"}
DB_JULY = {"C5", "C6", "C7", "E0", "E3", "E4", "E15", "E16", "E17"}  # 7 月 9 户困难残疾低保户
DB_MEDICAL = {"C11", "C12", "E8", "E9", "E19"}  # 日常医疗救助的 5 户长期生病低保户
DB_VOUCHER = {"C13", "E10"}  # 爱心购物券里虚构的 2 位（癌症）
DB_OLD = {"C16", "C17"}  # 高龄低保（单人户）
DB_NAMED = {"C10": ("樊国建", True, 52, ["重病"]), "E7": ("张永凤", False, 48, ["重病"]),
            "E18": ("邹康容", False, 61, [])}
dibao_hh: dict[str, dict] = {}
for key, size in zip(DB_KEYS, DB_SIZES):
    hh = new_hh()
    dibao_hh[key] = hh
    cats = ["低保"]
    kw = {}
    tags = {"低保户主", key}
    jiantui = key in ("C0", "C1", "C2", "C3", "C4")
    if key in DB_NAMED:
        name, male, age, extra = DB_NAMED[key]
        kw = {"name": name, "male": male, "age": age}
        cats += extra
    elif key in DB_OLD:
        kw = {"age": rng.randint(80, 86)}
        tags.add("高龄")
    elif jiantui:
        kw = {"age": rng.randint(40, 52)}
    elif size == 1:
        kw = {"age": rng.randint(45, 79)}
    else:
        kw = {"age": rng.randint(38, 72)}
    note = ""
    grade = ""
    if key in DB_DISABLED:
        cats.append("残疾")
        grade = "一级" if key == "C6" else grade_for(0.15)
        tags.add("低保残疾")
    if key in DB_MEDICAL:
        cats.append("重病")
        tags.add("日常医疗")
    if key in DB_VOUCHER:
        cats.append("重病")
        note = "癌症"
        tags.add("购物券")
    head = add(hh, cats=cats, grade=grade, note=note, tags=tags, **kw)
    head_age = YEAR - head["birth"].year
    if size >= 2:
        if jiantui:
            spouse(hh, head, cats=["低保"], tags={"再就业"}, age=rng.randint(36, 50),
                   note="2012年再就业，家庭低保渐退")
        elif head_age < 60 and rng.random() < 0.5:
            child(hh, head_age, min_age=8, cats=["低保"])
            if len(hh["members"]) < 2:
                spouse(hh, head, cats=["低保"])
        else:
            spouse(hh, head, cats=["低保"])
    if size == 3:
        c = child(hh, min(head_age, 45), min_age=6, max_age=17, cats=["低保"])
        if c is None:
            add(hh, age=rng.randint(6, 17), cats=["低保"])
    assert len(hh["members"]) == size, key

# --- 特困 7 人（单人户）：陈宸、高中良 + 5 位；其中 6 位同时残疾（5 月助残慰问的 6 户特困残疾人）
hh = new_hh()
add(hh, name="陈宸", male=True, age=58, cats=["特困", "残疾", "重病"], grade="一级", note="重残",
    tags={"特困2月", "特困残疾", "购物券"})
hh = new_hh()
add(hh, name="高中良", male=True, age=67, cats=["特困"], tags={"特困2月"})
for i in range(5):
    hh = new_hh()
    add(hh, age=rng.randint(50, 79), cats=["特困", "残疾"], grade=grade_for(0.3),
        tags={"特困残疾"} | ({"特困2月"} if i < 3 else set()))

# --- 困难户 19 户（户主为困难户）：王俊杰、夏光碧、谢业琴 + 16 位
KN_NAMED = [("王俊杰", True, 45, []), ("夏光碧", False, 56, ["重病"]), ("谢业琴", False, 52, ["重病"])]
for i in range(19):
    hh = new_hh()
    cats = ["困难户"]
    tags = {"困难户"}
    grade = ""
    if i < 3:
        name, male, age, extra = KN_NAMED[i]
        kw = {"name": name, "male": male, "age": age}
        cats += extra
    else:
        kw = {"age": rng.randint(35, 76)}
    if i == 2:
        tags.add("购物券")
    if i in (5, 9, 13):  # 3 位困难户本人残疾
        cats.append("残疾")
        grade = grade_for(0.2)
    if i in (0, 2, 3, 4, 5, 6, 7, 8, 10, 11):
        tags.add("日常慰问")  # 9–11 月每月同样这 10 位
    if i in (12, 14, 15):
        tags.add("廉租房")
    if i in (1, 4, 16, 17):
        tags.add("日常医疗")
    head = add(hh, cats=cats, grade=grade, tags=tags, **kw)
    family(hh, head, p_spouse=0.5, kids=(0, 1))
    if i in (6, 12, 17):  # 与子女同住的 80 岁以上老人（无类别）
        add(hh, age=rng.randint(80, 92), tags={"高龄"})

# --- 军烈属 13 户：12 位军属 + 烈属曾治庸（每户只有一人登记类别）
hh = new_hh()
zzy = add(hh, name="曾治庸", male=True, age=76, cats=["烈属", "重病"], note="烈士子女",
          tags={"军烈属", "日常医疗"})
spouse(hh, zzy)
for i in range(12):
    hh = new_hh()
    if i < 8:  # 现役军人的父母
        p = add(hh, age=rng.randint(44, 62), cats=["军属"], note="子女现役", tags={"军烈属"})
        if rng.random() < 0.5:
            child(hh, YEAR - p["birth"].year, min_age=10, max_age=17)
    else:  # 现役军人的配偶（多带一个孩子）
        p = add(hh, male=False, age=rng.randint(24, 34), cats=["军属"], note="配偶现役",
                tags={"军烈属"})
        child(hh, YEAR - p["birth"].year, min_age=1, max_age=8)

# --- 军转干部李富仁
hh = new_hh()
lfr = add(hh, name="李富仁", male=True, age=58, cats=["军转干部"], note="企业军转干部")
spouse(hh, lfr)

# --- 其余残疾人户（每户一位残疾人）：56 = 13（低保）+ 6（特困）+ 3（困难户）+ 34
hh = new_hh()
p = add(hh, name="陈世海", male=True, age=47, cats=["残疾", "重病"], grade="一级", note="重残",
        tags={"购物券", "日常医疗"})
family(hh, p, kids=(1, 1))
hh = new_hh()
p = add(hh, name="邓华兵", male=True, age=44, cats=["残疾", "重病"], grade="二级")
family(hh, p, kids=(0, 1))
hh = new_hh()
p = add(hh, name="何兴顺", male=True, age=62, cats=["残疾"], grade="二级", tags={"购物券"})
family(hh, p)
for i in range(2):  # 80 岁以上的残疾人
    hh = new_hh()
    add(hh, age=rng.randint(81, 90), cats=["残疾"], grade=rng.choice(("二级", "三级")),
        tags={"高龄"})
    if i == 0:
        add(hh, age=rng.randint(52, 60))
hh = new_hh()  # 购物券里虚构的重残者
p = add(hh, age=39, cats=["残疾"], grade="一级", note="重残", tags={"购物券"})
family(hh, p)
for i in range(3):  # 日常医疗救助里的重残者
    hh = new_hh()
    p = add(hh, age=rng.randint(30, 70), cats=["残疾"], grade="一级", note="重残",
            tags={"日常医疗"})
    family(hh, p)
for i in range(25):
    hh = new_hh()
    p = add(hh, age=rng.randint(18, 78), cats=["残疾"], grade=grade_for(0.15))
    family(hh, p, p_spouse=0.6)

# --- 空巢老人 20 人（60–79 岁）：6 对夫妇 + 8 位独居
for i in range(14):
    hh = new_hh()
    p = add(hh, age=rng.randint(62, 79), cats=["空巢老人"], tags={"空巢"})
    if i < 6:
        a = YEAR - p["birth"].year
        spouse(hh, p, cats=["空巢老人"], tags={"空巢"},
               age=max(60, min(79, a + rng.randint(-3, 3))))

# --- 高龄 80+（共 39 人 = 2 低保 + 3 困难户家中 + 2 残疾 + 此处 32）：7 对夫妇 + 18 位
for i in range(25):
    hh = new_hh()
    p = add(hh, age=rng.randint(80, 95), tags={"高龄"}, hide_birth=(i == 3))
    if i < 7:
        spouse(hh, p, tags={"高龄"}, age=max(80, YEAR - p["birth"].year + rng.randint(-4, 3)))
    elif i < 16:  # 与子女同住
        add(hh, age=rng.randint(52, 64))

# --- 刑满释放：曾秀荣、侯正林、黄觊
hh = new_hh()
p = add(hh, name="曾秀荣", male=False, age=41, cats=["刑满释放"], note="劳教释放")
add(hh, male=False, age=67)
hh = new_hh()
add(hh, name="侯正林", male=True, age=38, cats=["刑满释放"], note="劳教释放")
hh = new_hh()
p = add(hh, name="黄觊", male=True, age=29, cats=["刑满释放"], note="劳教释放")
add(hh, age=57)

# --- 莫什哈布、莫什伟书：农民工家庭的双胞胎兄弟，1998 年生，2012 年 5 月满 14 岁
hh = new_hh()
add(hh, name="莫什日哈", male=True, age=40, note="农民工")
used_names.add("莫什日哈")
add(hh, name="吉克阿芝", male=False, age=37, note="农民工")
used_names.add("吉克阿芝")
twins = date(1998, 2, 16)
add(hh, name="莫什哈布", male=True, birth=twins, note="学生")
add(hh, name="莫什伟书", male=True, birth=twins, note="学生")

# --- 长期生病的居民：何萍（大病）、刘健、龚世和（购物券）、一位参战复员人员、一位癌症病人
hh = new_hh()
p = add(hh, name="何萍", male=False, age=50, cats=["重病"])
family(hh, p, kids=(0, 1))
hh = new_hh()
p = add(hh, name="刘健", male=True, age=54, cats=["重病"], note="癌症", tags={"购物券"})
spouse(hh, p)
hh = new_hh()
p = add(hh, name="龚世和", male=True, age=66, cats=["重病"], tags={"购物券"})
spouse(hh, p)
hh = new_hh()
p = add(hh, male=True, age=57, cats=["重病"], note="参战复员，无工作", tags={"日常医疗"})
spouse(hh, p)
hh = new_hh()
p = add(hh, age=63, cats=["重病"], note="癌症", tags={"购物券"})
spouse(hh, p)

# --- 2012 年去世的 5 位（普通居民，无类别，未满 80）
for i in range(5):
    hh = new_hh()
    p = add(hh, age=rng.randint(64, 79), tags={"死亡"})
    spouse(hh, p)

# --- 其他普通居民户
for i in range(12):
    hh = new_hh()
    p = add(hh, age=rng.randint(28, 70))
    family(hh, p, p_spouse=0.85, kids=(0, 2))

# 几位普通居民不填出生日期（由身份证号推出）
plain = [p for p in persons if not p["cats"] and not p["tags"] and YEAR - p["birth"].year >= 18]
for p in rng.sample(plain, 4):
    p["hide_birth"] = True

by_name = {p["name"]: p for p in persons}
assert len(by_name) == len(persons), "姓名须唯一"
assert len({p["id"] for p in persons}) == len(persons)


def tagged(tag):
    return [p for p in persons if tag in p["tags"]]


def with_cat(*cats):
    return [p for p in persons if set(cats) <= set(p["cats"])]


# 数量核对
assert len(with_cat("低保")) == 70 and len({p["hh"] for p in with_cat("低保")}) == 45
assert len(with_cat("残疾")) == 56 and len({p["hh"] for p in with_cat("残疾")}) == 56
assert len(with_cat("低保", "残疾")) == 13
assert len(with_cat("特困", "残疾")) == 6
assert len(with_cat("困难户")) == 19
assert len([p for p in persons if {"军属", "烈属"} & set(p["cats"])]) == 13
assert len([p for p in persons if YEAR - p["birth"].year >= 80]) == 39 == len(tagged("高龄"))
assert len(with_cat("空巢老人")) == 20
assert len(tagged("日常医疗")) == 15 and len({p["hh"] for p in tagged("日常医疗")}) == 15
assert len(tagged("购物券")) == 10
assert not [p for p in persons if "陈" in p["name"] and p["name"] not in ("陈宸", "陈世海")]

# ---------------------------------------------------------------- disbursements
disb: list[dict] = []


def pay(day, p, program, method, goods, amount, handler=None, note=""):
    disb.append({"date": day, "p": p, "program": program, "method": method, "goods": goods,
                 "amount": amount, "handler": handler or rng.choice(STAFF), "note": note})


D = lambda m, d: date(YEAR, m, d)  # noqa: E731

# 慰问 18,940
for p in with_cat("低保"):
    pay(D(1, 23), p, "低保慰问", "现金", "", 170)
for p in with_cat("困难户"):
    pay(D(1, 18), p, "困难户慰问", "实物", "米、油、腊肉、汤元", 100)
for p in persons:
    if {"军属", "烈属"} & set(p["cats"]):
        pay(D(1, 18), p, "军烈属慰问", "实物", "油1桶", None, note="价值未记录")
for p in tagged("高龄"):
    pay(D(1, 18), p, "高龄慰问", "实物", "白糖4斤", 10)
for p in tagged("特困2月"):
    pay(D(2, 3), p, "特困慰问", "现金", "", 200)
for p in tagged("特困残疾"):
    pay(D(5, 16), p, "助残慰问", "实物", "米、油", 150, note="助残活动月")
for key in sorted(DB_JULY):
    pay(D(7, 12), dibao_hh[key]["members"][0], "助残慰问", "现金", "", 150, note="困难残疾低保户")
for m, d in ((9, 12), (10, 15), (11, 14)):
    for p in tagged("日常慰问"):
        pay(D(m, d), p, "日常慰问", "实物", "米、油", 50, note="困难居民每月慰问")
# 双拥（见 README 取舍 a）：记在 01_programs.csv 新增的项目“双拥慰问”（类别 双拥）
four = "、".join(STAFF)
pay(D(1, 20), zzy, "双拥慰问", "现金", "", 380, note="春节慰问烈属（现金及物资共380元）")
pay(D(7, 31), zzy, "双拥慰问", "现金", "", 200, handler=four, note="街道办事处代表慰问")
pay(D(7, 31), lfr, "双拥慰问", "现金", "", 200, handler=four, note="街道办事处代表慰问")

# 救助
for name, prog, amt, day in (("樊国建", "大病医疗救助", 3200, D(3, 12)),
                             ("王俊杰", "临时救助", 450, D(4, 9)),
                             ("何萍", "大病医疗救助", 1500, D(5, 22)),
                             ("张永凤", "大病医疗救助", 2600, D(6, 18)),
                             ("邓华兵", "临时救助", 400, D(8, 14)),
                             ("夏光碧", "大病医疗救助", 1200, D(10, 16)),
                             ("邹康容", "临时救助", 700, D(11, 20))):
    pay(day, by_name[name], prog, "现金", "", amt)
for p in with_cat("低保", "残疾"):  # 13 人，上半年；1350 不能被 13 整除：12×100 + 1×150
    pay(D(4, 20), p, "困难救助", "现金", "", 150 if p["hh"] == dibao_hh["C6"]["no"] else 100,
        note="低保残疾人困难救助（上半年）")
med = sorted(tagged("日常医疗"), key=lambda p: p["hh"])
for i, p in enumerate(med):  # 8×500 + 7×600
    pay((D(3, 28), D(6, 27), D(9, 26))[i % 3], p, "日常医疗救助", "转账", "",
        500 if i < 8 else 600, note="全年日常医疗救助")
pay(D(3, 6), by_name["曾秀荣"], "刑释人员救助", "现金", "", 200, note="生活、医疗救助")
pay(D(6, 12), by_name["侯正林"], "刑释人员救助", "现金", "", 150, note="生活、医疗救助")
pay(D(9, 11), by_name["黄觊"], "刑释人员救助", "现金", "", 150, note="生活、医疗救助")
for name in ("莫什哈布", "莫什伟书"):
    pay(D(5, 25), by_name[name], "临时救助", "现金", "", 100, note="农民工家庭渡难关")

# 补贴
vouchers = sorted(tagged("购物券"), key=lambda p: p["hh"])
for m, d in ((8, 6), (9, 5), (10, 8), (11, 5)):
    for p in vouchers:
        pay(D(m, d), p, "爱心购物券", "购物券", "米、油", 50, note="石桥铺新世纪超市领取")
for p in tagged("廉租房"):
    pay(D(6, 29), p, "廉租房补助", "", "", None, note="报告未载金额")
reemp = sorted(tagged("再就业"), key=lambda p: p["hh"])
JT_START = {"C0": 4, "C1": 6, "C2": 7, "C3": 9, "C4": 10}  # 渐退起始月
for key, day in (("C0", D(5, 10)), ("C1", D(7, 10)), ("C2", D(8, 9))):
    pay(day, dibao_hh[key]["members"][1], "再就业补助", "", "", None, note="报告未载金额")

# 死亡日期：每位去世者此后没有任何走访/发放
deaths = []
for p, day in zip(tagged("死亡"), (D(2, 14), D(4, 3), D(6, 21), D(9, 2), D(11, 27))):
    deaths.append((p, day))
    p["died"] = day

# ---------------------------------------------------------------- visits
visits: list[dict] = []


def visit(day, p, purpose, note=""):
    visits.append({"date": day, "p": p, "who": "、".join(rng.sample(STAFF, 2)),
                   "purpose": purpose, "note": note})


seen = set()
spring = [p for p in persons if "低保户主" in p["tags"]] + with_cat("残疾") + with_cat("困难户")
for p in spring:
    if p["id"] in seen:
        continue
    seen.add(p["id"])
    visit(D(1, rng.randint(9, 20)), p, "春节走访慰问")
for p in persons:  # 春节送油时上门看望军烈属
    if {"军属", "烈属"} & set(p["cats"]):
        visit(D(1, 18), p, "春节慰问军烈属")
for p in tagged("特困残疾"):
    visit(D(5, 16), p, "助残活动月看望")
nest = tagged("空巢")
for p in nest[:12]:
    visit(D(5, rng.randint(10, 31)), p, "空巢老人上门服务", "5月8日交心会后")
old = [p for p in tagged("高龄") if p["id"] not in seen]
for p in old[:22]:
    visit(D(10, 23), p, "重阳节看望高龄老人")
for p in rng.sample(with_cat("残疾"), 12):
    visit(D(rng.randint(3, 12), rng.randint(1, 28)), p, "残疾人日常走访")

# ---------------------------------------------------------------- 低保名册
# 当前 18 户月保障金合计 4,660；5 户渐退户较此前减少合计 1,527
CUR_AMT = {"C0": 312, "C1": 285, "C2": 248, "C3": 262, "C4": 226, "C5": 436,
           **dict(zip([f"C{i}" for i in range(6, 18)],
                      (236, 248, 210, 262, 230, 255, 244, 218, 270, 226, 240, 252)))}
DROP = {"C0": 412, "C1": 286, "C2": 305, "C3": 268, "C4": 256}
assert sum(CUR_AMT.values()) == 4660 and sum(DROP.values()) == 1527
dibao_rows = []
for key in DB_KEYS:
    hh = dibao_hh[key]
    head = hh["members"][0]
    n = len([m for m in hh["members"] if "低保" in m["cats"]])
    row = {"hh": hh["no"], "head": head, "n": n}
    if key in DROP:
        s = JT_START[key]
        dibao_rows.append({**row, "amt": CUR_AMT[key] + DROP[key], "start": "2011-11",
                           "end": f"2012-{s - 1:02d}", "status": "在保", "note": ""})
        dibao_rows.append({**row, "amt": CUR_AMT[key], "start": f"2012-{s:02d}", "end": "",
                           "status": "渐退",
                           "note": f"{hh['members'][1]['name']}再就业，低保渐退（三个月试用期收入不计）"})
    elif key.startswith("C"):
        dibao_rows.append({**row, "amt": CUR_AMT[key],
                           "start": rng.choice(("2011-11", "2011-11", "2011-12", "2012-01")),
                           "end": "", "status": "在保", "note": ""})
    else:
        per = rng.randint(170, 300)
        dibao_rows.append({**row, "amt": per * n - rng.randint(0, 40),
                           "start": f"{rng.choice((2009, 2010, 2011))}-{rng.randint(1, 12):02d}",
                           "end": f"2012-{rng.randint(2, 10):02d}", "status": "停保",
                           "note": rng.choice(("家庭收入超过保障标准", "家庭收入超过保障标准",
                                               "就业后收入超标", "年审不再符合条件"))})

# ---------------------------------------------------------------- report 10: elections
COMMUNITIES = ["煤港社区", "九里山社区", "琵琶社区", "拾屯社区", "下淀社区", "义安社区",
               "新华社区", "桃园社区", "东方社区", "翠屏社区", "和平社区", "工农社区",
               "润发社区", "民主社区", "建设社区", "锦绣社区", "金山社区", "光明社区",
               "文华社区", "兴隆社区", "运河社区", "平安社区", "长青社区", "丰收社区",
               "怡园社区", "幸福社区"]
assert COMMUNITY not in COMMUNITIES and len(set(COMMUNITIES)) == 26
sizes = [3] * 14 + [5] * 9 + [7] * 3
rng.shuffle(sizes)
edge = {3: [1500], 5: [1501, 2000], 7: [3000]}  # 边界值
elections = []
for i, (cname, seats) in enumerate(zip(COMMUNITIES, sizes)):
    lo, hi = {3: (620, 1500), 5: (1501, 2000), 7: (2001, 3000)}[seats]
    hhs = edge[seats].pop() if edge[seats] else rng.randint(lo, hi)
    method = ("直接选举", "户代表选举", "居民代表选举")[i % 3]
    if method == "直接选举":
        reg = int(hhs * rng.uniform(2.0, 2.6))
        ballots = int(reg * rng.uniform(0.56, 0.9))
    elif method == "户代表选举":
        reg = hhs - rng.randint(5, 60)
        ballots = int(reg * rng.uniform(0.58, 0.92))
    else:
        reg = rng.randint(35, 95)
        ballots = max(reg * 2 // 3 + 1, int(reg * rng.uniform(0.75, 0.98)))
    valid = ballots - rng.randint(0, max(1, ballots // 60))
    elections.append({"c": cname, "term": "第8届" if i % 2 == 0 else "8",
                      "date": date(YEAR, 3, rng.randint(2, 30)), "method": method,
                      "hh": hhs, "reg": reg, "ballots": ballots, "valid": valid, "seats": seats,
                      "note": "一次性选举成功"})

# 108 位当选成员的属性：精确还原篇10 的各项人数
n = sum(sizes)
assert n == 108
ages = ([24, 26, 27, 28, 29, 30] + [rng.randint(31, 39) for _ in range(12)]
        + [rng.randint(40, 49) for _ in range(28)] + [rng.randint(50, 59) for _ in range(42)]
        + [rng.randint(60, 67) for _ in range(20)])
EDU_ORDER = (["研究生"] + ["大学本科"] * 5 + ["大专"] * 6 + ["高中"] * 30 + ["中专"] * 14
             + ["初中"] * 46 + ["小学"] * 6)
# 年轻者学历偏高：按“年龄+噪声”排序后依次配学历
order = sorted(range(n), key=lambda k: ages[k] + rng.gauss(0, 10))
edu = [""] * n
for k, e in zip(order, EDU_ORDER):
    edu[k] = e
party = ["群众"] * n
for k in range(3):  # 24、26、27 岁的三位是共青团员
    party[k] = "共青团员"
rest = [k for k in range(3, n)]
rng.shuffle(rest)
for k in rest[:24]:
    party[k] = "中共党员"
for k in rest[24:28]:
    party[k] = "中共预备党员"
for k in [k for k in rest[28:] if ages[k] >= 40][:4]:
    party[k] = "民主党派"
members = list(zip(ages, edu, party))
rng.shuffle(members)
# 性别：45 女 63 男，每个居委会至少一位女性
slots = [(ci, j) for ci, s in enumerate(sizes) for j in range(s)]
women = {(ci, 0) for ci in range(26)}
others = [s for s in slots if s not in women]
women |= set(rng.sample(others, 45 - 26))

candidates = []
for ci, (el, s) in enumerate(zip(elections, sizes)):
    cand = []
    for j in range(s):
        age, e, pa = members.pop()
        cand.append({"female": (ci, j) in women, "age": age, "edu": e, "party": pa,
                     "elected": True})
    for _ in range(rng.choice((1, 2))):
        cand.append({"female": rng.random() < 0.4, "age": rng.randint(28, 62),
                     "edu": rng.choice(("大专", "高中", "中专", "初中")),
                     "party": rng.choice(("群众", "群众", "中共党员")), "elected": False})
    b = el["ballots"]
    for c in cand:
        if c["elected"]:
            c["votes"] = rng.randint(b // 2 + 1, int(el["valid"] * 0.97))
        else:
            c["votes"] = rng.randint(int(b * 0.12), int(b * 0.46))
        assert (c["votes"] * 2 > b) == c["elected"] and c["votes"] <= el["valid"]
        # 出生日期：选举日满 age 周岁
        d = el["date"]
        while True:
            bd = date(d.year - c["age"] - 1, 1, 1) + timedelta(days=rng.randint(0, 730))
            if age_on(bd, d) == c["age"]:
                break
        c["birth"] = bd
        male = not c["female"]
        c["name"] = new_name(male, bd.year)
        c["male"] = male
    cand.sort(key=lambda c: -c["votes"])
    chosen = [c for c in cand if c["elected"]]
    n_vice = {3: rng.choice((0, 1)), 5: rng.choice((1, 2)), 7: 2}[s]
    for j, c in enumerate(chosen):
        c["role"] = "主任" if j == 0 else ("副主任" if j <= n_vice else "委员")
    for c in cand:
        candidates.append({**c, "c": el["c"], "term": rng.choice(("第8届", "8"))})
assert not members

# ---------------------------------------------------------------- write
for row in disb + visits:
    died = row["p"].get("died")
    assert died is None or row["date"] <= died


def write(fname, header, rows):
    with open(HERE / fname, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


write("01_programs.csv", ["项目", "类别"], [["双拥慰问", "双拥"]])
write("02_registry.csv",
      ["社区", "户号", "姓名", "性别", "身份证号", "出生日期", "联系电话", "住址", "人员类别",
       "残疾等级", "备注"],
      [[COMMUNITY, p["hh"], p["name"], "男" if p["male"] else "女", p["id"],
        "" if p["hide_birth"] else p["birth"].isoformat(), p["phone"], p["addr"],
        "、".join(p["cats"]), p["grade"], p["note"]] for p in persons])
disb.sort(key=lambda r: (r["date"], r["p"]["hh"]))
write("03_disbursements.csv",
      ["发放日期", "社区", "户号", "姓名", "身份证号", "项目", "方式", "物品", "金额(元)",
       "经办人", "备注"],
      [[r["date"].isoformat(), COMMUNITY, r["p"]["hh"], r["p"]["name"], r["p"]["id"],
        r["program"], r["method"], r["goods"], money(r["amount"]), r["handler"], r["note"]]
       for r in disb])
visits.sort(key=lambda r: (r["date"], r["p"]["hh"]))
write("04_visits.csv", ["走访日期", "社区", "户号", "姓名", "身份证号", "走访人", "事由", "备注"],
      [[r["date"].isoformat(), COMMUNITY, r["p"]["hh"], r["p"]["name"], r["p"]["id"],
        r["who"], r["purpose"], r["note"]] for r in visits])
write("05_dibao.csv",
      ["社区", "户号", "户主姓名", "户主身份证号", "保障人数", "月保障金(元)", "起始月份",
       "终止月份", "状态", "备注"],
      [[COMMUNITY, r["hh"], r["head"]["name"], r["head"]["id"], r["n"], money(r["amt"]),
        r["start"], r["end"], r["status"], r["note"]] for r in dibao_rows])
write("06_deaths.csv", ["社区", "姓名", "身份证号", "死亡日期", "是否火化", "备注"],
      [[COMMUNITY, p["name"], p["id"], d.isoformat(), "是", "病故，遗体已火化"]
       for p, d in deaths])
write("07_elections.csv",
      ["社区", "届次", "选举日期", "选举方式", "户数", "登记选民数", "参加投票人数", "有效票数",
       "应选名额", "备注"],
      [[e["c"], e["term"], e["date"].isoformat(), e["method"], e["hh"], e["reg"], e["ballots"],
        e["valid"], e["seats"], e["note"]] for e in elections])
write("08_candidates.csv",
      ["社区", "届次", "轮次", "姓名", "性别", "出生日期", "文化程度", "政治面貌", "得票数",
       "是否当选", "职务"],
      [[c["c"], c["term"], 1, c["name"], "男" if c["male"] else "女", c["birth"].isoformat(),
        c["edu"], c["party"], c["votes"], "是" if c["elected"] else "否",
        c.get("role", "")] for c in candidates])

if __name__ == "__main__":
    print(f"居民 {len(persons)} 人 / {len(households)} 户；发放 {len(disb)} 行；走访 {len(visits)} 行；"
          f"低保名册 {len(dibao_rows)} 行；选举 {len(elections)} 次，候选人 {len(candidates)} 人。"
          f"已写入 {HERE}")
