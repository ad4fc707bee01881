"""`open_store(path)`: an mgsweep HDF5 store as an xarray DataTree of labelled, lazy arrays.

Nodes (each an xarray Dataset; dimensions in brackets):
  /               coords concept (+ concept_label, category), prompt; prompt_text [concept, prompt]
  /baseline       codes [concept, prompt, codebook, frame], logits [concept, prompt, class],
                  ndcg [concept, prompt], done; self_similarity [concept, layer, layer_j]
  /lens           codes [concept, prompt, layer, codebook, frame], logits, ndcg, done
                  (layer i = the stack cut after layer i, k = i + 1 layers kept)
  /interventions  effect, effect_original, effect_desired, precision, status, done
                  [technique, pair, prompt, target]; ideal_precision [pair, prompt];
                  logits [..., class]; codes [..., codebook, frame]. Along target: component,
                  layer, head (-1: the whole block), window ("all", "T0-T1", "T0-end"), t0, t1;
                  along pair: original, desired, pair_category
  /means          blocks [concept, site, step, hidden], blocks_frame_avg, heads
                  [concept, head_site, step, head_dim], heads_frame_avg, done [concept]
  /extremes       top, bottom [technique, pair, prompt, rank] (target indices, -1: none), done
  /meta           stage_seconds, stage_items [stage]
  /rescore/NAME/{baseline,lens,interventions}   another classifier's scores, same layout

Schema 3 adds `checksum` to /baseline, /lens, /interventions and /means (and
`self_similarity_checksum` to /baseline): the CRC-32C of each done item's stored values (int64
holding the uint32 value; -1 where not done; README "The store" says which bytes), with the item
axes of `done`. `mgsweep verify STORE` recomputes them. Schema-2 stores have none.

Items whose done flag is 0 are missing values: NaN, or -1 in integer data (codes, extremes).
Nothing large is read until its values are asked for. The file is opened without HDF5 file
locking (as the C++ store itself does), so a store can be read while a run writes it; what
is read is the last checkpoint with the journal's records as of opening laid over it, i.e.
what `mgsweep status` and a resumed run see. Open it again to see newer results.
"""

from __future__ import annotations

import os
import tomllib

import numpy as np
import xarray as xr

from . import journal as journal_mod
from . import labels, lazy, schema, targets as targets_mod

os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")
import h5py  # noqa: E402  (after the variable: older HDF5 reads it when the library starts)

STAGES = ("baseline", "lens", "interventions")
_LABELS_CSV = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "audioset_labels.csv")


def _strings(ds) -> list[str]:
    return [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in ds[()]]


def _attr(f, name):
    v = f.attrs.get(name)
    return v.decode("utf-8") if isinstance(v, bytes) else v


def _class_names(n: int):
    """AudioSet display names (PaSST's order) when the classifier has 527 classes."""
    if n != 527 or not os.path.exists(_LABELS_CSV):
        return None
    import csv
    with open(_LABELS_CSV, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["display_name"] for r in rows] if len(rows) == n else None


class _Reader:
    def __init__(self, path: str, use_journal: bool, legacy: bool):
        self.path = path
        self.f = h5py.File(path, "r", locking=False)
        try:
            self.version = schema.version_of(_attr(self.f, "schema"), path)
            schema.check_store_format(_attr(self.f, "mgsweep_store_format"), path)
            if self.version < schema.OLDEST_CURRENT_MEANING and not legacy:
                raise schema.refuse_old(path, self.version)
        except Exception:
            self.f.close()
            raise
        self.generation = int(self.f["/_store/generation"][0]) if "/_store/generation" in self.f else 0
        self.store_id = _attr(self.f, "mgsweep_store_id")
        self.records = journal_mod.read(path, self.generation, self.store_id) if use_journal else {}
        self.spec = tomllib.loads(_attr(self.f, "spec_toml") or "")

    def has(self, name: str) -> bool:
        return name in self.f and isinstance(self.f[name], h5py.Dataset)

    def src(self, name: str) -> lazy.H5Source:
        return lazy.H5Source(self.f[name], self.records.get(name, ()))

    def eager(self, name: str) -> np.ndarray:
        s = self.src(name)
        return s.read((slice(None),) * len(s.shape))

    def masked(self, dims, name: str, done: np.ndarray | None, extra_attrs=None):
        s = self.src(name)
        attrs = {"doc": _attr(self.f[name], "doc") or ""}
        attrs.update(extra_attrs or {})
        if done is not None:
            fill = np.nan if np.issubdtype(s.dtype, np.floating) else -1
            attrs["missing_value"] = "NaN" if isinstance(fill, float) else -1
            s = lazy.MaskedSource(s, lazy.ArraySource(done), fill)
        return lazy.variable(dims, s, attrs)


def _target_coords(names: list[str], dim: str, prefix: str = "") -> dict:
    ts = [targets_mod.parse(n) for n in names]
    return {
        dim: (dim, names),
        prefix + "component": (dim, [t.component for t in ts]),
        prefix + "layer": (dim, np.array([t.layer for t in ts], dtype=np.int64)),
        prefix + "head": (dim, np.array([t.head for t in ts], dtype=np.int64)),
        **({} if prefix else {
            "window": (dim, [t.window for t in ts]),
            "t0": (dim, np.array([t.t0 for t in ts], dtype=np.int64)),
            "t1": (dim, np.array([t.t1 for t in ts], dtype=np.int64)),
        }),
    }


def _baseline(r: _Reader, root: str, done_b, classes) -> xr.Dataset:
    ds = xr.Dataset()
    if root == "" and r.has("/baseline/done"):
        ds["done"] = (("concept", "prompt"), done_b.astype(bool))
        ds["codes"] = r.masked(("concept", "prompt", "codebook", "frame"), "/baseline/codes", done_b)
    for v, dims in (("logits", ("concept", "prompt", "class")), ("ndcg", ("concept", "prompt"))):
        if r.has(f"{root}/baseline/{v}"):
            ds[v] = r.masked(dims, f"{root}/baseline/{v}", done_b)
    if root == "" and r.has("/baseline/checksum"):
        ds["checksum"] = _checksum(r, ("concept", "prompt"), "/baseline/checksum")
    if root == "" and r.has("/baseline/self_similarity"):
        ds["self_similarity"] = r.masked(("concept", "layer", "layer_j"), "/baseline/self_similarity",
                                         None)
        if r.has("/baseline/self_similarity_checksum"):
            ds["self_similarity_checksum"] = _checksum(r, ("concept",),
                                                       "/baseline/self_similarity_checksum")
        L = r.f["/baseline/self_similarity"].shape[1]
        ds = ds.assign_coords(layer=np.arange(L), layer_j=np.arange(L))
    return _with_classes(ds, classes)


def _checksum(r: _Reader, dims, name: str):
    """A schema-3 checksum dataset as it is stored (int64; -1: no checksum, the item not done)."""
    return lazy.variable(dims, r.src(name), {"doc": _attr(r.f[name], "doc") or "",
                                             "missing_value": -1})


def _with_classes(ds: xr.Dataset, classes) -> xr.Dataset:
    if "class" in ds.dims:
        n = ds.sizes["class"]
        ds = ds.assign_coords({"class": np.arange(n)})
        names = _class_names(n)
        if names:
            ds = ds.assign_coords(class_name=("class", names))
    return ds


def _lens(r: _Reader, root: str, done_l) -> xr.Dataset:
    ks = r.eager("/lens/k").astype(np.int64)
    ds = xr.Dataset(coords={"layer": ("layer", ks - 1), "k": ("layer", ks)})
    if root == "":
        ds["done"] = (("concept", "prompt", "layer"), done_l.astype(bool))
        ds["codes"] = r.masked(("concept", "prompt", "layer", "codebook", "frame"), "/lens/codes",
                               done_l)
        if r.has("/lens/checksum"):
            ds["checksum"] = _checksum(r, ("concept", "prompt", "layer"), "/lens/checksum")
    for v, dims in (("logits", ("concept", "prompt", "layer", "class")),
                    ("ndcg", ("concept", "prompt", "layer"))):
        if r.has(f"{root}/lens/{v}"):
            ds[v] = r.masked(dims, f"{root}/lens/{v}", done_l)
    return _with_classes(ds, None)


def _interventions(r: _Reader, root: str, done_i, done_b, concepts, cats) -> xr.Dataset:
    techs = _strings(r.f["/interventions/techniques"])
    tnames = _strings(r.f["/interventions/targets"])
    pairs = r.eager("/interventions/pairs").astype(np.int64)
    pair_names = [f"{concepts[a]}->{concepts[b]}" for a, b in pairs]
    coords = {
        "technique": ("technique", techs),
        "technique_label": ("technique", [labels.technique(t) for t in techs]),
        "pair": ("pair", pair_names),
        "original": ("pair", [concepts[a] for a, _ in pairs]),
        "desired": ("pair", [concepts[b] for _, b in pairs]),
        "pair_category": ("pair", [labels.pair_category(cats[a], cats[b]) for a, b in pairs]),
        **_target_coords(tnames, "target"),
    }
    ds = xr.Dataset(coords=coords)
    ax = ("technique", "pair", "prompt", "target")
    if root == "":
        ds["done"] = (ax, done_i.astype(bool))
        ds["codes"] = r.masked(ax + ("codebook", "frame"), "/interventions/codes", done_i)
        if r.has("/interventions/checksum"):
            ds["checksum"] = _checksum(r, ax, "/interventions/checksum")
    for v in ("effect", "effect_original", "effect_desired"):
        if r.has(f"{root}/interventions/{v}"):
            ds[v] = r.masked(ax, f"{root}/interventions/{v}", done_i)
    if r.has(f"{root}/interventions/precision"):
        if r.version >= 2:
            ds["precision"] = r.masked(ax, f"{root}/interventions/precision", done_i,
                                       {"definition": "-KL(after || before)"})
        else:
            ds["precision_v1"] = r.masked(
                ax, f"{root}/interventions/precision", done_i,
                {"definition": "-KL(before || after): schema 1, NOT the paper's direction",
                 "note": f"run `mgsweep migrate {r.path}` for the paper's precision"})
    if r.has(f"{root}/interventions/ideal_precision") and done_b is not None:
        ideal_done = done_b[pairs[:, 0], :]  # the baseline of prompt p of the pair's original
        ds["ideal_precision"] = r.masked(("pair", "prompt"), f"{root}/interventions/ideal_precision",
                                         ideal_done)
    if r.has(f"{root}/interventions/status"):
        ds["status"] = lazy.variable(ax, r.src(f"{root}/interventions/status"),
                                     {"doc": "metrics status (0 ok); meaningful where done"})
    if r.has(f"{root}/interventions/logits"):
        ds["logits"] = r.masked(ax + ("class",), f"{root}/interventions/logits", done_i)
    return _with_classes(ds, None)


def _means(r: _Reader) -> xr.Dataset:
    sites = _strings(r.f["/means/sites"])
    blocks = [s for s in sites if ".head." not in s]
    heads = [s for s in sites if ".head." in s]
    done_m = r.eager("/means/done")
    ds = xr.Dataset()
    ds["done"] = (("concept",), done_m.astype(bool))
    if r.has("/means/checksum"):
        ds["checksum"] = _checksum(r, ("concept",), "/means/checksum")
    if blocks and r.has("/means/blocks"):
        ds = ds.assign_coords(_target_coords(blocks, "site", "site_"))
        ds["blocks"] = r.masked(("concept", "site", "step", "hidden"), "/means/blocks", done_m)
        ds["blocks_frame_avg"] = r.masked(("concept", "site", "hidden"), "/means/blocks_frame_avg",
                                          done_m)
    if heads and r.has("/means/heads"):
        ds = ds.assign_coords(_target_coords(heads, "head_site", "head_site_"))
        ds["heads"] = r.masked(("concept", "head_site", "step", "head_dim"), "/means/heads", done_m)
        ds["heads_frame_avg"] = r.masked(("concept", "head_site", "head_dim"),
                                         "/means/heads_frame_avg", done_m)
    return ds


def _extremes(r: _Reader, iv: xr.Dataset) -> xr.Dataset:
    done_e = bool(r.eager("/extremes/done")[0])
    E = r.f["/extremes/top"].shape[3]
    ds = xr.Dataset(coords={"rank": np.arange(1, E + 1),
                            **{c: iv.coords[c] for c in ("technique", "pair", "original",
                                                         "desired")}})
    mask = np.full(r.f["/extremes/top"].shape[:3], 1 if done_e else 0, dtype=np.uint8)
    for v in ("top", "bottom"):
        ds[v] = r.masked(("technique", "pair", "prompt", "rank"), f"/extremes/{v}", mask,
                         {"meaning": "index into interventions.target; -1: none (or not computed)"})
    ds["done"] = ((), done_e)
    return ds


def _progress(done: dict[str, np.ndarray]) -> dict:
    out = {}
    for stage, d in done.items():
        out[f"{stage}_done"] = int(np.count_nonzero(d))
        out[f"{stage}_items"] = int(d.size)
    return out


def open_store(path: str, *, journal: bool = True, legacy: bool = False) -> xr.DataTree:
    """The store at `path` as an xarray DataTree (see the module's docstring for the nodes).

    journal: lay STORE.journal's records (results since the last checkpoint) over the file.
    legacy: read a schema-1 store as it is instead of refusing it (its precision, of the other
    KL direction, is then `interventions.precision_v1`, and there is no ideal_precision).
    Raises StoreSchemaError for a newer or unknown schema, and for schema 1 unless legacy.
    """
    path = os.fspath(path)
    r = _Reader(path, journal, legacy)
    try:
        return _build(r)
    except Exception:
        r.f.close()
        raise


def _build(r: _Reader) -> xr.DataTree:
    f, spec = r.f, r.spec
    concepts = _strings(f["/concepts"])
    cspec = spec.get("concept", {})
    cats = [labels.category(cspec.get(c, {}).get("slot", "")) for c in concepts]
    prompts = _strings(f["/prompts"])
    P = len(prompts) // max(1, len(concepts))
    root = xr.Dataset(coords={
        "concept": ("concept", concepts),
        "concept_label": ("concept", [labels.concept(c) for c in concepts]),
        "category": ("concept", cats),
        "prompt": ("prompt", np.arange(P)),
    })
    root["prompt_text"] = (("concept", "prompt"), np.array(prompts, dtype=object).reshape(-1, P))

    done: dict[str, np.ndarray] = {}
    nodes: dict[str, xr.Dataset] = {"/": root}
    done_b = r.eager("/baseline/done") if r.has("/baseline/done") else None
    if done_b is not None:
        done["baseline"] = done_b
        nodes["/baseline"] = _baseline(r, "", done_b, None)
    if r.has("/lens/done"):
        done["lens"] = r.eager("/lens/done")
        nodes["/lens"] = _lens(r, "", done["lens"])
    if r.has("/interventions/done"):
        done["interventions"] = r.eager("/interventions/done")
        nodes["/interventions"] = _interventions(r, "", done["interventions"], done_b, concepts,
                                                 cats)
    if r.has("/means/done"):
        done["means"] = r.eager("/means/done")
        nodes["/means"] = _means(r)
    if r.has("/extremes/done"):
        done["extremes"] = r.eager("/extremes/done")
        nodes["/extremes"] = _extremes(r, nodes["/interventions"])
    if r.has("/meta/stage_seconds"):
        nodes["/meta"] = xr.Dataset(
            {"stage_seconds": ("stage", r.eager("/meta/stage_seconds")),
             "stage_items": ("stage", r.eager("/meta/stage_items"))},
            coords={"stage": list(STAGES)})
    if "rescore" in f:
        for name in sorted(f["rescore"].keys()):
            g = f"/rescore/{name}"
            if f"{g}/baseline" in f and done_b is not None:
                nodes[f"{g}/baseline"] = _baseline(r, g, done_b, None)
            if f"{g}/lens" in f and "lens" in done:
                nodes[f"{g}/lens"] = _lens(r, g, done["lens"])
            if f"{g}/interventions" in f and "interventions" in done:
                nodes[f"{g}/interventions"] = _interventions(r, g, done["interventions"], done_b,
                                                             concepts, cats)

    prog = _progress(done)
    complete = all(np.all(d != 0) for d in done.values())
    root.attrs.update({
        "path": os.path.abspath(r.path),
        "schema": _attr(f, "schema"),
        "schema_version": r.version,
        "name": spec.get("name", os.path.splitext(os.path.basename(r.path))[0]),
        "model": spec.get("model", ""),
        "store_id": r.store_id or "",
        "generation": r.generation,
        "journal_records": sum(len(v) for v in r.records.values()),
        "complete": bool(complete),
        "spec_toml": _attr(f, "spec_toml") or "",
        "spec_hash": _attr(f, "spec_hash") or "",
        # Schema 3: what the results were computed with ("unknown" after a migration without
        # the model at hand; "" before schema 3).
        "model_fingerprint": _attr(f, "model_fingerprint") or "",
        "classifier_fingerprint": _attr(f, "classifier_fingerprint") or "",
        **prog,
    })
    if "/means/blocks" in f:
        root.attrs["hidden_size"] = int(f["/means/blocks"].shape[3])
    elif "/means/heads" in f:  # only head sites: heads x head_dim
        heads = [targets_mod.parse(s).head for s in _strings(f["/means/sites"])]
        root.attrs["hidden_size"] = int(f["/means/heads"].shape[3]) * (max(heads) + 1)
    if "/baseline/self_similarity" in f:
        root.attrs["num_layers"] = int(f["/baseline/self_similarity"].shape[1])
    for k in ("created_by", "created_with_classifier", "created_with_device", "migrated_from"):
        if _attr(f, k) is not None:
            root.attrs[k] = _attr(f, k)
    nodes["/"] = root
    tree = xr.DataTree.from_dict(nodes)
    tree.set_close(r.f.close)
    return tree


def progress(tree: xr.DataTree) -> dict[str, tuple[int, int]]:
    """{stage: (done, items)} of a tree from open_store."""
    a = tree.attrs
    return {s: (a[f"{s}_done"], a[f"{s}_items"]) for s in ("baseline", "lens", "interventions",
                                                          "means", "extremes")
            if f"{s}_done" in a}


def unstack_targets(da: xr.DataArray) -> xr.DataArray:
    """`da` with its target dimension turned into component, layer, head and window
    dimensions (missing combinations are NaN), e.g. effect[technique, pair, prompt,
    component, layer, head, window]."""
    keep = [c for c in ("component", "layer", "head", "window") if c in da.coords]
    drop = [c for c in ("t0", "t1") if c in da.coords]
    return da.drop_vars(drop).set_index(target=keep).unstack("target")
