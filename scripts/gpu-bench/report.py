"""
The GPU benchmark's summary (bench.py writes it into the results file after every stage and
prints it at the end): per model, the parts' rates from the stages that finished, their ratios
to (a) and to (d), the preprocessing ceiling, and the targets met or not. A part whose stage did
not finish is absent, with its stage's status in the file's "stages".
"""

NAMES = {"vit-l-14-336": "ViT-L/14@336px", "vit-b-32": "ViT-B/32", "tiny": "tiny-clip-336"}
PARTS = (("a", "(a) in-process"), ("b", "(b) worker"), ("c", "(c) end to end"), ("d", "(d) peer"))


def rate(part):
    return part.get("imagesPerSecond") if isinstance(part, dict) else None


def models(stages, presets):
    out = {}
    for preset in presets:
        r = {}
        for kind in ("bundle", "a", "graphs", "b", "c", "d", "ceiling"):
            s = stages.get("%s:%s" % (kind, preset)) or {}
            if s.get("status") == "ok":
                r[kind] = s["result"]
        if "bundle" in r:
            r["flopsPerImage"] = r["bundle"]["flopsPerImage"]
        r["ratios"] = ratios(r)
        out[preset] = r
    return out


def ratios(r):
    out = {}
    for x in ("a", "b", "c", "d"):
        for base in ("a", "d"):
            if x != base and rate(r.get(x)) and rate(r.get(base)):
                out["%s/%s" % (x, base)] = rate(r[x]) / rate(r[base])
    if rate(r.get("c")) and r.get("ceiling"):
        out["c/ceiling"] = rate(r["c"]) / r["ceiling"]["imagesPerSecond"]
    return out


def targets(models):
    """(what, value, wanted, met): the targets, for an H200 in float16."""
    t = []

    def add(what, value, want):
        t.append({"target": what, "value": value, "wanted": want, "met": value is not None and value >= want})

    if "vit-l-14-336" in models:
        r = models["vit-l-14-336"]
        add("ViT-L (a) images/s", rate(r.get("a")), 1200)
        add("ViT-L (a) FLOP utilisation", (r.get("a") or {}).get("flopUtilisation"), 0.58)
        add("ViT-L (b)/(a)", r["ratios"].get("b/a"), 0.95)
        add("ViT-L (c)/(a)", r["ratios"].get("c/a"), 0.8)
        add("ViT-L (c)/(d)", r["ratios"].get("c/d"), 1.0)
    if "vit-b-32" in models:
        add("ViT-B/32 (c)/preprocessing ceiling", models["vit-b-32"]["ratios"].get("c/ceiling"), 0.9)
    return t


def show(res):
    print("\nclipql GPU benchmark on %s (torch %s), %.0f s" % (res.get("device"), res.get("torch", "?"), res.get("seconds", 0)))
    print("stages: %s" % ", ".join("%s %s" % (n, s["status"]) for n, s in res["stages"].items()))
    m = (res["stages"].get("matmul") or {}).get("result")
    if m:
        print("matmul %d³: %s" % (m["n"], ", ".join("%s %.3g TFLOP/s" % (k, v / 1e12) for k, v in m["flopsPerSecond"].items())))
    w = (res["stages"].get("cpu-workers") or {}).get("result")
    if w:
        print("two CPU workers / one at concurrency 8: %.2f (rounds %s; target >= 1.6: %s)" % (w["ratio"], ", ".join("%.2f" % x for x in w["roundRatios"]), "met" if w["ratio"] >= 1.6 else "NOT met"))
    print("%-16s %-26s %12s %8s %8s" % ("model", "part", "images/s", "/(a)", "/(d)"))
    for preset, r in res["models"].items():
        name = NAMES.get(preset, preset)
        for x, label in PARTS:
            v = rate(r.get(x))
            if x == "a" and v:
                label += " batch %d" % r["a"]["batch"]
            if v:
                shown = "%12.1f %8s %8s" % (v, "%.3f" % (v / rate(r["a"])) if rate(r.get("a")) else "-", "%.3f" % (v / rate(r["d"])) if rate(r.get("d")) else "-")
            else:
                shown = "%12s" % (res["stages"].get("%s:%s" % (x, preset)) or {}).get("status", "-")
            print("%-16s %-26s %s" % (name, label, shown))
        if (r.get("a") or {}).get("flopUtilisation"):
            print("%-16s %-26s %12.3f   (%.1f GFLOP an image)" % ("", "FLOP utilisation of (a)", r["a"]["flopUtilisation"], r["flopsPerImage"] / 1e9))
        for kind, v in ((r.get("graphs") or {}).get("variants") or {}).items():
            detail = v["error"][:60] if "error" in v else "%12.1f   cosine %.7f, start %.1f s" % (v["imagesPerSecond"], v["minCosine"], v["startSeconds"])
            print("%-16s %-26s %s" % ("", "graphs: " + kind, detail))
        if r.get("graphs"):
            print("%-16s %-26s %12s   (cosine >= %g to eager)" % ("", "graphs check", "pass" if r["graphs"]["pass"] else "FAIL", r["graphs"]["wantedCosine"]))
        if r.get("ceiling"):
            c = r["ceiling"]
            print("%-16s %-26s %12.1f   (%.1f per thread x %d); (c)/ceiling %s" % ("", "preprocessing ceiling", c["imagesPerSecond"], c["perThread"], c["threads"], "%.3f" % r["ratios"]["c/ceiling"] if "c/ceiling" in r["ratios"] else "-"))
    if res["targets"]:
        print("\ntargets (H200, ViT-L float16)%s:" % (" - this is not that configuration" if res.get("device") == "cpu" else ""))
        for t in res["targets"]:
            v = t["value"]
            print("  %-40s %10s  >= %-6g %s" % (t["target"], "%.3f" % v if v is not None else "-", t["wanted"], "met" if t["met"] else "NOT met"))
