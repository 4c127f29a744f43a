#!/usr/bin/env python3
"""Print bench/run.sh's results file as the DESIGN.md performance table.

usage: report.py RESULTS ROUNDS SECONDS PIN COLD_ROUNDS

Warm figures are the best round (highest rate) of each server and K; its
p99 is that round's.  Cold figures are the best (lowest wall time) of
COLD_ROUNDS rounds.  Verdicts compare with the targets; they are information, never a
failure.
"""
import statistics
import sys


def parse(path):
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            d = {"kind": parts[0]}
            for kv in parts[1:]:
                if "=" in kv:
                    k, v = kv.split("=", 1)
                    d.setdefault(k, v)
            rows.append(d)
    return rows


def num(d, k):
    try:
        return float(d.get(k, "nan"))
    except ValueError:
        return float("nan")


def verdict(ok):
    return "meets" if ok else "MISSES"


def main():
    rows = parse(sys.argv[1])
    rounds, secs, pin = sys.argv[2], sys.argv[3], sys.argv[4] == "1"
    crounds = sys.argv[5] if len(sys.argv) > 5 else "2"
    m = next((r for r in rows if r["kind"] == "machine"), {})
    print()
    print("machine: %s CPUs (%s), load average at start %s; build %s (%s)" % (
        m.get("cpus"), m.get("model", "?").replace("_", " "),
        m.get("load_at_start", "?").replace(",", " "), m.get("build"),
        m.get("buildtype")))
    peers = [r for r in rows if r["kind"] == "peer"]
    if peers:
        print("peer: postfix-mta-sts-resolver (Debian package), internal cache, "
              "uvloop %s" % ("loaded" if all(r.get("uvloop") == "yes" for r in peers)
                             else "NOT loaded"))

    # -- warm
    warm = [r for r in rows if r["kind"] == "warm"]
    by = {}
    for r in warm:
        by.setdefault((r["server"], r["k"]), []).append(r)
    best = {key: max(v, key=lambda r: num(r, "rate")) for key, v in by.items()}

    def med(key, field):
        v = [num(r, field) for r in by.get(key, [])]
        return statistics.median(v) if v else float("nan")

    def ratio_med(a, b, k):
        """Median over rounds of a's rate / b's rate, same round."""
        ra = {r["round"]: num(r, "rate") for r in by.get((a, k), [])}
        rb = {r["round"]: num(r, "rate") for r in by.get((b, k), [])}
        v = [ra[x] / rb[x] for x in ra if x in rb and rb[x] > 0]
        return statistics.median(v) if v else float("nan")

    verdicts = []
    if warm:
        print()
        print("1. warm cached lookups: K connections, one request in flight each; "
              "%s rounds x %s s, servers measured back to back in each round%s" % (
                  rounds, secs,
                  "; servers on CPU 0, load generator on CPU 1" if pin else ""))
        print("   rate and latency: median over rounds (best round's rate in "
              "brackets); cpu: the server's own CPU time per request, median")
        print("%-9s %3s %18s %8s %8s %9s %9s %9s" % (
            "server", "K", "rate/s [best]", "p50 us", "p99 us", "cpu us/req",
            "vs triv", "vs peer"))
        for k in ("8", "64"):
            for name in ("trivial", "ours", "peer"):
                key = (name, k)
                if key not in by:
                    continue
                vt = ratio_med(name, "trivial", k)
                vp = ratio_med(name, "peer", k)
                print("%-9s %3s %9.0f [%6.0f] %8.0f %8.0f %9.1f %8.0f%% %8.2fx" % (
                    {"ours": "mta-stsd", "peer": "pmsr"}.get(name, name), k,
                    med(key, "rate"), num(best[key], "rate"), med(key, "p50_us"),
                    med(key, "p99_us"), med(key, "cpu_us_per_req"), vt * 100, vp))
            o, t, p = ("ours", k), ("trivial", k), ("peer", k)
            if o in by and t in by:
                rt = ratio_med("ours", "trivial", k)
                ct = med(t, "cpu_us_per_req") / med(o, "cpu_us_per_req")
                verdicts.append("warm K=%s: mta-stsd %.0f%% of trivial's rate (median of "
                                "per-round ratios; by CPU per request %.0f%%) "
                                "(target >= 90%%): %s" % (
                                    k, 100 * rt, 100 * ct, verdict(rt >= 0.9)))
            if o in by and p in by:
                rp = ratio_med("ours", "peer", k)
                cp = med(p, "cpu_us_per_req") / med(o, "cpu_us_per_req")
                verdicts.append("warm K=%s: mta-stsd %.2fx pmsr's rate (by CPU per "
                                "request %.2fx) (target >= 3x): %s" % (
                                    k, rp, cp, verdict(rp >= 3)))
            if o in by and k == "64":
                verdicts.append("warm K=64: mta-stsd p99 %.0f us (median of rounds; "
                                "target < 1000 us; trivial's own p99 %.0f us): %s" % (
                                    med(o, "p99_us"), med(t, "p99_us"),
                                    verdict(med(o, "p99_us") < 1000)))
        print("   rates per round: " + "; ".join(
            "%s K=%s: %s" % (s_, k_, " ".join("%.0f" % num(r, "rate") for r in v))
            for (s_, k_), v in sorted(by.items())))

    # -- cold
    cold = [r for r in rows if r["kind"] == "cold"]
    cbest = {}
    for r in cold:
        t = r["tool"]
        if t not in cbest or num(r, "wall_s") < num(cbest[t], "wall_s"):
            cbest[t] = r
    if cold:
        print()
        print("2. cold: 1000 uncached domains, 50 at a time, local DNS + HTTPS; "
              "best of %s round(s), each on names nobody looked up before" % crounds)
        print("%-34s %8s %8s %8s %9s %9s" % ("tool", "wall s", "cpu s", "ok/1000",
                                              "vs curl", "vs pmsr"))
        names = {"curl": "curl --parallel --parallel-max 50",
                 "cli": "mta-sts fetch --concurrency 50",
                 "ours": "mta-stsd (socketmap, 50 conns)",
                 "peer": "pmsr (socketmap, 50 conns)"}
        c = cbest.get("curl")
        pe = cbest.get("peer")
        for t in ("curl", "cli", "ours", "peer"):
            r = cbest.get(t)
            if r is None:
                continue
            print("%-34s %8.2f %8.2f %8s %8.2fx %8.2fx" % (
                names[t], num(r, "wall_s"), num(r, "cpu_s"), r.get("ok"),
                num(c, "wall_s") / num(r, "wall_s") if c else float("nan"),
                num(pe, "wall_s") / num(r, "wall_s") if pe else float("nan")))
        print("   (vs = speed-up: baseline wall time / this wall time; cpu s: the "
              "process's user+sys, for the daemons their own CPU only)")
        for t in ("cli", "ours"):
            r = cbest.get(t)
            if r and c:
                verdicts.append("cold %s: %.2f s vs curl %.2f s (target: no slower): %s" % (
                    t, num(r, "wall_s"), num(c, "wall_s"),
                    verdict(num(r, "wall_s") <= num(c, "wall_s"))))
            if r and pe:
                verdicts.append("cold %s: %.2f s vs pmsr %.2f s (target: faster): %s" % (
                    t, num(r, "wall_s"), num(pe, "wall_s"),
                    verdict(num(r, "wall_s") < num(pe, "wall_s"))))

    # -- storm
    if any(r["kind"] == "storm" for r in rows):
        print()
        print("3. warm K=8 on cached domains while the same daemon discovers "
              "1000 uncached ones (50 at a time)")
        print("   closed: the warm side as fast as answers come; paced: at a fixed "
              "rate.  storm s: how long the 1000 discoveries took")
        print("%-9s %-24s %10s %8s %8s %8s %9s %8s" % (
            "server", "", "rate/s", "p50 us", "p99 us", "max us", "storm s",
            "storm ok"))
        for s_ in ("ours", "peer"):
            nm = {"ours": "mta-stsd", "peer": "pmsr"}[s_]
            if (s_, "8") in by:
                b = best[(s_, "8")]
                print("%-9s %-24s %10.0f %8.0f %8.0f %8.0f %9s %8s" % (
                    nm, "no storm (best warm)", num(b, "rate"), num(b, "p50_us"),
                    num(b, "p99_us"), num(b, "max_us"), "-", "-"))
            for mode in ("closed", "paced"):
                w = next((r for r in rows if r["kind"] == "storm" and r["server"] == s_
                          and r.get("mode", "closed") == mode and r["part"] == "warm"), None)
                st = next((r for r in rows if r["kind"] == "storm" and r["server"] == s_
                           and r.get("mode", "closed") == mode and r["part"] == "cold"), None)
                if w is None or st is None:
                    continue
                print("%-9s %-24s %10.0f %8.0f %8.0f %8.0f %9.2f %8s" % (
                    nm, "during storm, " + mode, num(w, "rate"), num(w, "p50_us"),
                    num(w, "p99_us"), num(w, "max_us"), num(st, "elapsed_s"),
                    st.get("ok")))
                if s_ == "ours":
                    verdicts.append("storm (%s): mta-stsd warm p99 %.0f us during the "
                                    "storm (target < 2000 us; storm %.2f s, %s/1000 ok): %s" % (
                                        mode, num(w, "p99_us"), num(st, "elapsed_s"),
                                        st.get("ok"), verdict(num(w, "p99_us") < 2000)))

    # -- rss
    rr = {r["server"]: r for r in rows if r["kind"] == "rss"}
    if rr:
        print()
        print("4. peak RSS with 10 000 cached policies (fresh process, every domain "
              "looked up once, then checked once more)")
        print("%-9s %10s %10s %10s %10s %10s %8s %8s" % (
            "server", "start KiB", "peak KiB", "now KiB", "anon KiB", "file KiB",
            "filled", "re-hit"))
        for s in ("ours", "peer"):
            r = rr.get(s)
            if r:
                print("%-9s %10s %10s %10s %10s %10s %8s %8s" % (
                    {"ours": "mta-stsd", "peer": "pmsr"}[s], r["start_hwm_kb"],
                    r["peak_kb"], r["rss_kb"], r.get("anon_kb", "?"),
                    r.get("file_kb", "?"), r["fill_ok"], r["check_ok"]))
        print("   (anon: private memory, file: shared library pages counted in "
              "RSS, both at the end)")
    if "ours" in rr and "peer" in rr:
        ratio = num(rr["ours"], "peak_kb") / num(rr["peer"], "peak_kb")
        verdicts.append("RSS: mta-stsd peak %.1f MiB = 1/%.1f of pmsr's %.1f MiB "
                        "(target <= 1/5): %s" % (
                            num(rr["ours"], "peak_kb") / 1024, 1 / ratio,
                            num(rr["peer"], "peak_kb") / 1024, verdict(ratio <= 0.2)))
        anon = num(rr["ours"], "anon_kb") / num(rr["peer"], "anon_kb")
        verdicts.append("RSS, information: private memory (anon) at the end "
                        "%.1f MiB vs pmsr's %.1f MiB = 1/%.1f; shared library "
                        "pages %.1f vs %.1f MiB" % (
                            num(rr["ours"], "anon_kb") / 1024,
                            num(rr["peer"], "anon_kb") / 1024, 1 / anon,
                            num(rr["ours"], "file_kb") / 1024,
                            num(rr["peer"], "file_kb") / 1024))

    print()
    print("targets (information only; a benchmark never fails a build):")
    for v in verdicts:
        print("  " + v)


if __name__ == "__main__":
    main()
