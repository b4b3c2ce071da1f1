"""Per-template writers: cross-row and cross-table checks, then the SQL writes.

Each writer gets a chunk of parsed rows [(line, values)], reports problems through
`self.error(...)` (the row is then not written) and counts added/updated/unchanged.
"""
from __future__ import annotations

from . import validators as v
from .report import RowError


def _q(name):
    return f'"{name}"'


class Writer:
    def __init__(self, db, report):
        self.db, self.report = db, report
        self.communities = dict(db.execute("SELECT name, id FROM communities").fetchall())

    def error(self, line, column, reason):
        self.report.errors.append(RowError(line, column, reason))

    def tally(self, outcome):
        setattr(self.report, outcome, getattr(self.report, outcome) + 1)

    def community(self, line, name, create=False):
        if name not in self.communities:
            if not create:
                self.error(line, "社区", f"未知的社区「{name}」（居民名册中没有这个社区）")
                return None
            self.communities[name] = self.db.execute(
                "INSERT INTO communities (name) VALUES (?)", [name]).lastrowid
        return self.communities[name]

    def lookup_persons(self, id_numbers):
        ids = sorted({i for i in id_numbers if i})
        found = {}
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            rows = self.db.execute(
                "SELECT p.id_number, p.id, p.name, p.community_id, p.birth_date, h.household_no"
                " FROM persons p LEFT JOIN households h ON h.id = p.household_id"
                f" WHERE p.id_number IN ({', '.join('?' * len(part))})", part).fetchall()
            found.update({r[0]: r for r in rows})
        return found

    def person(self, line, values, persons, community_id, id_column="身份证号", name_column="姓名"):
        """The registry person a row refers to, checked against its name and community."""
        id_number = values["id_number"][0]
        row = persons.get(id_number)
        if row is None:
            self.error(line, id_column, f"身份证号 {id_number} 不在居民名册中：请先导入该居民")
            return None
        ok = True
        if values["name"] != row[2]:
            self.error(line, name_column, f"姓名「{values['name']}」与居民名册不符（名册中为「{row[2]}」）")
            ok = False
        if community_id is not None and row[3] != community_id:
            registered = next(n for n, i in self.communities.items() if i == row[3])
            self.error(line, "社区", f"该居民在居民名册中属于「{registered}」，不是「{values['community']}」")
            ok = False
        return row if ok else None

    def upsert(self, table, key: dict, values: dict):
        """Insert or update one row by its natural key; returns (rowid, outcome)."""
        cols = list(values)
        where = " AND ".join(f"{_q(k)} = ?" for k in key)
        existing = self.db.execute(
            f"SELECT id, {', '.join(map(_q, cols))} FROM {_q(table)} WHERE {where}",
            list(key.values())).fetchone()
        if existing is None:
            row = {**key, **values}
            rowid = self.db.execute(
                f"INSERT INTO {_q(table)} ({', '.join(map(_q, row))})"
                f" VALUES ({', '.join('?' * len(row))})", list(row.values())).lastrowid
            return rowid, "added"
        if list(existing[1:]) == [values[c] for c in cols]:
            return existing[0], "unchanged"
        self.db.execute(
            f"UPDATE {_q(table)} SET {', '.join(f'{_q(c)} = ?' for c in cols)} WHERE id = ?",
            [*values.values(), existing[0]])
        return existing[0], "updated"


def _yuan(amount):
    return None if amount is None else float(amount)


class ProgramsWriter(Writer):
    def write(self, rows):
        for line, r in rows:
            _, outcome = self.upsert("programs", {"name": r["program"]}, {"category": r["category"]})
            self.tally(outcome)


class RegistryWriter(Writer):
    def __init__(self, db, report):
        super().__init__(db, report)
        self.seen = {}  # id number -> first line in this file
        self.households = {}

    def household(self, community_id, household_no, address):
        key = (community_id, household_no)
        if key not in self.households:
            row = self.db.execute(
                "SELECT id, address FROM households WHERE community_id = ? AND household_no = ?",
                key).fetchone()
            if row is None:
                row = (self.db.execute(
                    "INSERT INTO households (community_id, household_no, address) VALUES (?, ?, ?)",
                    [*key, address]).lastrowid, address)
            elif address and row[1] != address:
                self.db.execute("UPDATE households SET address = ? WHERE id = ?", [address, row[0]])
            self.households[key] = row[0]
        return self.households[key]

    def write(self, rows):
        for line, r in rows:
            id_number, legacy = r["id_number"]
            if id_number in self.seen:
                self.error(line, "身份证号", f"与第 {self.seen[id_number]} 行重复")
                continue
            self.seen[id_number] = line
            birth, gender = v.id_birth_date(id_number), v.id_gender(id_number)
            ok = True
            if r["birth_date"] and r["birth_date"] != birth:
                self.error(line, "出生日期", f"与身份证号不符（身份证号中为 {birth}）")
                ok = False
            if r["gender"] and r["gender"] != gender:
                self.error(line, "性别", f"与身份证号不符（身份证号中为{gender}）")
                ok = False
            if not ok:
                continue
            community_id = self.community(line, r["community"], create=True)
            household_id = self.household(community_id, r["household_no"], r["address"])
            person_id, outcome = self.upsert("persons", {"id_number": id_number}, {
                "id_legacy": int(legacy), "name": r["name"], "gender": gender,
                "birth_date": birth, "phone": r["phone"], "address": r["address"],
                "community_id": community_id, "household_id": household_id,
                "disability_grade": r["disability_grade"], "note": r["note"]})
            wanted = set(r["categories"] or [])
            have = {c for (c,) in self.db.execute(
                "SELECT category FROM person_categories WHERE person_id = ?", [person_id])}
            if wanted != have:
                self.db.execute("DELETE FROM person_categories WHERE person_id = ?", [person_id])
                self.db.conn.executemany(
                    "INSERT INTO person_categories (person_id, category) VALUES (?, ?)",
                    [(person_id, c) for c in sorted(wanted)])
                outcome = "updated" if outcome == "unchanged" else outcome
            self.tally(outcome)


class _PersonEventWriter(Writer):
    """Rows about one registry person (disbursements, visits, deaths, 低保)."""
    id_column, name_column = "身份证号", "姓名"

    def write(self, rows):
        persons = self.lookup_persons(r["id_number"][0] for _, r in rows)
        out = []
        for line, r in rows:
            community_id = self.community(line, r["community"])
            person = self.person(line, r, persons, community_id, self.id_column, self.name_column)
            if community_id is None or person is None:
                continue
            record = self.record(line, r, person, community_id)
            if record is not None:
                out.append(record)
        self.flush(out)


class DisbursementsWriter(_PersonEventWriter):
    def __init__(self, db, report):
        super().__init__(db, report)
        self.programs = dict(db.execute("SELECT name, id FROM programs").fetchall())

    def record(self, line, r, person, community_id):
        program_id = self.programs.get(r["program"])
        if program_id is None:
            self.error(line, "项目", f"未知的项目「{r['program']}」（项目表中没有，请先在项目表中添加）")
            return None
        return (r["paid_on"], community_id, r["household_no"], person[1], program_id,
                r["method"], r["goods"], _yuan(r["amount_yuan"]), r["handler"], r["note"])

    def flush(self, out):
        self.db.conn.executemany(
            "INSERT INTO disbursements (paid_on, community_id, household_no, person_id,"
            " program_id, method, goods, amount_yuan, handler, note)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", out)
        self.report.added += len(out)


class VisitsWriter(_PersonEventWriter):
    def record(self, line, r, person, community_id):
        return (r["visited_on"], community_id, r["household_no"], person[1],
                r["visitors"], r["purpose"], r["note"])

    def flush(self, out):
        self.db.conn.executemany(
            "INSERT INTO visits (visited_on, community_id, household_no, person_id, visitors,"
            " purpose, note) VALUES (?, ?, ?, ?, ?, ?, ?)", out)
        self.report.added += len(out)


class DeathsWriter(_PersonEventWriter):
    def record(self, line, r, person, community_id):
        if person[4] and r["died_on"] < person[4]:
            self.error(line, "死亡日期", f"早于出生日期 {person[4]}")
            return None
        return person[1], community_id, r["died_on"], int(r["cremated"]), r["note"]

    def flush(self, out):
        for person_id, community_id, died_on, cremated, note in out:
            _, outcome = self.upsert("deaths", {"person_id": person_id}, {
                "community_id": community_id, "died_on": died_on, "cremated": cremated,
                "note": note})
            self.tally(outcome)


class DibaoWriter(_PersonEventWriter):
    id_column, name_column = "户主身份证号", "户主姓名"

    def record(self, line, r, person, community_id):
        if person[5] != r["household_no"]:
            self.error(line, "户号", f"户主在居民名册中的户号为「{person[5]}」")
            return None
        if r["end_month"] and r["end_month"] < r["start_month"]:
            self.error(line, "终止月份", f"早于起始月份 {r['start_month']}")
            return None
        status = r["status"] or ("停保" if r["end_month"] else "在保")
        household_id = self.db.execute(
            "SELECT household_id FROM persons WHERE id = ?", [person[1]]).fetchone()[0]
        return household_id, r["start_month"], {
            "community_id": community_id, "head_person_id": person[1],
            "persons_covered": r["persons_covered"], "monthly_yuan": _yuan(r["monthly_yuan"]),
            "end_month": r["end_month"], "status": status, "note": r["note"]}

    def flush(self, out):
        for household_id, start_month, values in out:
            _, outcome = self.upsert(
                "dibao_enrolments", {"household_id": household_id, "start_month": start_month},
                values)
            self.tally(outcome)


class ElectionsWriter(Writer):
    def write(self, rows):
        for line, r in rows:
            if r["ballots_cast"] > r["registered_voters"]:
                self.error(line, "参加投票人数", "大于登记选民数")
                continue
            if r["valid_ballots"] is not None and r["valid_ballots"] > r["ballots_cast"]:
                self.error(line, "有效票数", "大于参加投票人数")
                continue
            community_id = self.community(line, r["community"], create=True)
            _, outcome = self.upsert("elections", {"community_id": community_id, "term": r["term"]}, {
                "held_on": r["held_on"], "method": r["method"], "households": r["households"],
                "registered_voters": r["registered_voters"], "ballots_cast": r["ballots_cast"],
                "valid_ballots": r["valid_ballots"], "seats": r["seats"], "note": r["note"]})
            self.tally(outcome)


class CandidatesWriter(Writer):
    def write(self, rows):
        for line, r in rows:
            election = self.db.execute(
                "SELECT e.id, e.ballots_cast, e.held_on FROM elections e"
                " JOIN communities c ON c.id = e.community_id WHERE c.name = ? AND e.term = ?",
                [r["community"], r["term"]]).fetchone()
            if election is None:
                self.error(line, "届次", f"找不到「{r['community']}」第{r['term']}届的选举记录：请先导入选举表")
                continue
            if r["votes"] > election[1]:
                self.error(line, "得票数", f"大于参加投票人数 {election[1]}")
                continue
            if r["birth_date"] >= election[2]:
                self.error(line, "出生日期", f"不早于选举日期 {election[2]}")
                continue
            if r["role"] and not r["elected"]:
                self.error(line, "职务", "未当选的候选人不能填写职务")
                continue
            _, outcome = self.upsert(
                "candidates", {"election_id": election[0], "round": r["round"] or 1, "name": r["name"]},
                {"gender": r["gender"], "birth_date": r["birth_date"], "education": r["education"],
                 "party": r["party"], "votes": r["votes"], "elected": int(r["elected"]),
                 "role": r["role"]})
            self.tally(outcome)


WRITERS = {
    "programs": ProgramsWriter, "registry": RegistryWriter, "disbursements": DisbursementsWriter,
    "visits": VisitsWriter, "deaths": DeathsWriter, "dibao": DibaoWriter,
    "elections": ElectionsWriter, "candidates": CandidatesWriter,
}
