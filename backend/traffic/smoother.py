"""Where on the matched path a fix is committed: a lag-1, 1-D Kalman smoother along the path
(MapMatcher._settle). Near a junction on a straight run the emission cannot tell the two
edges apart; the committed fix before (its filtered position carried forward by the reported
speeds) and the best candidate of the fix after can. The state is three numbers per vehicle
(com_f, com_var, com_v), kept in the matcher's arrays; this mixin holds the arithmetic."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import log_ndtr

from backend.traffic.ubodt import PathTable

if TYPE_CHECKING:
    from backend.traffic.matching import MatchParams


class AlongPathSmoother:
    """Mixed into MapMatcher, whose per-vehicle arrays it reads and writes."""

    p: MatchParams
    table: PathTable
    edge_len: np.ndarray
    counters: Counter[str]
    bearing_in: np.ndarray
    bearing_out: np.ndarray
    # per-vehicle state (MapMatcher._alloc)
    c_edge: np.ndarray
    c_off: np.ndarray
    c_beyond: np.ndarray
    c_dist: np.ndarray
    noise2: np.ndarray
    last_t: np.ndarray
    last_v: np.ndarray
    last_h: np.ndarray
    com_t: np.ndarray
    com_edge: np.ndarray
    com_off: np.ndarray
    com_f: np.ndarray
    com_var: np.ndarray
    com_v: np.ndarray

    def _put(self, s: np.ndarray, edge: np.ndarray, off: np.ndarray,
             out: list[tuple[np.ndarray, ...]]) -> None:
        raise NotImplementedError  # MapMatcher's

    def along(self, e0: np.ndarray, off0: np.ndarray, e1: np.ndarray,
              off1: np.ndarray) -> np.ndarray:
        """Signed distance along the path from (e0, off0) to (e1, off1): negative when the
        second lies on the same edge or the one before, behind the first (noise)."""
        tb, length = self.table, self.edge_len
        ahead = length[e0] - off0 + tb.distance(tb.edge_to[e0], tb.edge_from[e1]) + off1
        behind = np.where(tb.edge_to[e1] == tb.edge_from[e0], length[e1] - off1 + off0, np.inf)
        return np.where(e0 == e1, off1 - off0, np.where(behind < ahead, -behind, ahead))

    def _disp(self, va: np.ndarray, vb: np.ndarray, dt: np.ndarray) -> tuple[np.ndarray,
                                                                              np.ndarray]:
        """Distance driven in dt between fixes reporting speeds va and vb (trapezoid; NaN when
        neither reports one) and its error variance."""
        v = np.where(np.isnan(va), vb, np.where(np.isnan(vb), va, (va + vb) / 2)) / 3.6
        d = v * dt
        dv = np.nan_to_num(np.abs(va - vb), nan=0.0) / 3.6 * dt
        p = self.p
        return d, p.disp_floor_m ** 2 + p.disp_psd * dt ** 3 / 3 + (p.disp_dv * dv) ** 2

    def _valid(self, innovation: np.ndarray, var: np.ndarray) -> np.ndarray:
        """Probability that a prediction holds given its innovation: Gaussian against a
        broken motion (any position within the route limit, prior `p_break`)."""
        p = self.p
        good = (1 - p.p_break) * np.exp(-0.5 * innovation ** 2 / var) / np.sqrt(2 * np.pi * var)
        return good / (good + p.p_break / p.route_limit_m)

    def _settle(self, s: np.ndarray, i: np.ndarray, f: np.ndarray, pf: np.ndarray,
                u1: np.ndarray, t1: np.ndarray, v1: np.ndarray,
                out: list[tuple[np.ndarray, ...]]) -> None:
        """Commit the last fix (candidate i) where a 1-D Kalman smoother along the path puts
        it, not where its own projection does: near a junction on a straight run the emission
        cannot tell the two edges apart, but the committed fix before (its filtered position
        carried forward by the reported speeds) and the best candidate of the fix after (f at
        pf, just received) can. Lag 1; the state is three numbers per vehicle."""
        p, length = self.p, self.edge_len
        e, o, uk = self.c_edge[s, i], self.c_off[s, i], self.c_beyond[s, i]
        across = np.maximum(np.nan_to_num(self.c_dist[s, i] ** 2 - uk ** 2), 0.0)
        sig2 = np.clip(self.noise2[s] + p.noise_alpha * (across - self.noise2[s]),
                       p.noise_min_m ** 2, (p.radius_m / 2) ** 2)
        self.noise2[s] = sig2
        tk, vk = self.last_t[s], self.last_v[s]
        c0, x0 = self.com_edge[s], self.com_off[s]
        linked = c0 >= 0
        c0s = np.where(linked, c0, e)
        # positions along the path from the committed fix before (0 when none)
        r1 = np.where(linked, self.along(c0s, x0, e, o), 0.0)
        zk = r1 + uk
        z1 = r1 + self.along(e, o, f, pf) + u1
        d1, q1 = self._disp(self.com_v[s], vk, tk - self.com_t[s])
        var1 = self.com_var[s] + q1
        pred = self.com_f[s] + d1
        fwd = linked & np.isfinite(pred) & np.isfinite(var1)
        var1, pred = np.where(fwd, var1, 1.0), np.where(fwd, pred, zk)
        # Kalman update, mixed with a restart from the fix by how likely the motion broke
        # (a stop or U-turn between fixes the speeds do not show): a soft gate.
        k1 = sig2 / (var1 + sig2)  # the prediction's weight
        sf, vf = zk + k1 * (pred - zk), var1 * k1
        w = np.where(fwd, self._valid(zk - pred, sig2 + var1), 0.0)
        self.counters["smoothed:restart"] += int((linked & (w < 0.5)).sum())
        sf, vf = _mix(w, sf, vf, zk, sig2)
        d2, q2 = self._disp(vk, v1, t1 - tk)
        back = z1 - d2
        var2 = sig2 + q2
        wb = np.where(np.isfinite(back), self._valid(np.nan_to_num(back) - sf, vf + var2), 0.0)
        k2 = vf / (vf + var2)
        ss, var = _mix(wb, sf + k2 * (np.nan_to_num(back) - sf), vf * (1 - k2), sf, vf)
        edge, pos = self._place(s, e, o + ss - r1, np.sqrt(var), f, c0, x0, vk)
        # where the committed position lies along the path, to carry the filter forward
        w = o + ss - r1
        at = r1 - o + np.where(edge == e, pos, np.where(w > length[e] / 2, length[e] + pos,
                                                         pos - length[edge]))
        self._put(s, edge, pos, out)
        self.com_f[s], self.com_var[s], self.com_v[s] = sf - at, vf, vk

    def _place(self, s: np.ndarray, e: np.ndarray, w: np.ndarray, sd: np.ndarray,
               f: np.ndarray, c0: np.ndarray, x0: np.ndarray,
               vk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(edge, offset) of the smoothed position `w` metres from e's start (sd metres): e,
        or the path's edge across e's nearer node (before e: from the committed fix c0; after
        it: towards the next fix's edge f) when the position is likelier past that node,
        the fix's heading against both edges' bearings at the node counted in."""
        tb, length = self.table, self.edge_len
        linked = c0 >= 0
        at_end = w > length[e] / 2
        z = np.where(at_end, w - length[e], -w) / sd   # > 0: past the node
        nb = np.full(len(e), -1, dtype=np.int64)
        near = z > -4.0
        ahead = np.flatnonzero(near & at_end & (f != e))
        if len(ahead):
            ea, fa = e[ahead], f[ahead]
            nxt = np.where(tb.edge_to[ea] == tb.edge_from[fa], fa, -1)
            far = np.flatnonzero(nxt < 0)
            if len(far):
                nxt[far] = tb.first_edge(tb.edge_to[ea[far]], tb.edge_from[fa[far]])
            nb[ahead] = nxt
        behind = np.flatnonzero(near & ~at_end & linked & (c0 != e))
        if len(behind):
            eb, cb = e[behind], c0[behind]
            nb[behind] = np.where(tb.edge_to[cb] == tb.edge_from[eb], cb,
                                  tb.last_edge(tb.edge_to[cb], tb.edge_from[eb]))
        cand = np.flatnonzero(nb >= 0)
        cross = np.zeros(len(e), dtype=bool)
        if len(cand):
            n, ec, ae = nb[cand], e[cand], at_end[cand]
            logodds = log_ndtr(z[cand]) - log_ndtr(-z[cand])
            h = self.last_h[s[cand]]
            use = np.isfinite(h) & (np.nan_to_num(vk[cand]) >= self.p.heading_min_kmh)
            b_nb = np.where(ae, self.bearing_in[n], self.bearing_out[n])
            b_e = np.where(ae, self.bearing_out[ec], self.bearing_in[ec])
            agree = np.cos(np.radians(h - b_nb)) - np.cos(np.radians(h - b_e))
            logodds += np.where(use, self.p.heading_kappa * np.nan_to_num(agree), 0.0)
            cross[cand] = logodds > 0
        self.counters["smoothed:moved"] += int(cross.sum())
        edge = np.where(cross, nb, e)
        pos = np.where(cross, np.where(at_end, w - length[e], length[np.maximum(nb, 0)] + w), w)
        pos = np.clip(pos, 0.0, length[edge])
        same = linked & (edge == c0)   # never behind the committed fix before
        pos[same] = np.maximum(pos[same], x0[same])
        return edge, pos


def _mix(w: np.ndarray, m1: np.ndarray, v1: np.ndarray, m2: np.ndarray,
         v2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the mixture w N(m1, v1) + (1 - w) N(m2, v2)."""
    m = w * m1 + (1 - w) * m2
    return m, w * v1 + (1 - w) * v2 + w * (1 - w) * (m1 - m2) ** 2
