"""Page geometry for pairing pictures with captions: costs, obstacles and reading order.

Each picture goes to the cheapest caption next to it, as pdffigures2 proposes regions: above
(cost = gap), below (gap + 10) or beside (gap + 20), never across body text or another caption.
Side captions sit up to 60 pt away: Global Heart 18(1):41 (Ubiquity Press) prints them in a
margin column 22-45 pt from the picture.
"""

from __future__ import annotations

BELOW_PENALTY = 10.0    # captions usually sit below their figure
SIDE_PENALTY = 20.0
SIDE_MAX_GAP = 60.0


def overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return min(a1, b1) - max(a0, b0)


def _blocked(cap: list[float], across: tuple[float, float], lo: float, hi: float,
             vertical: bool, obstacles: list[list[float]]) -> bool:
    """Body text or another caption lying between ``lo`` and ``hi`` (along y when
    ``vertical``, else along x) and overlapping ``across`` on the other axis?"""
    a, b, c, d = (0, 2, 1, 3) if vertical else (1, 3, 0, 2)
    for o in obstacles:
        if o is cap or o == cap:
            continue
        if overlap(o[a], o[b], *across) > 2 and o[c] >= lo - 1 and o[d] <= hi + 1:
            return True
    return False


def pair_cost(img: list[float], cap: list[float], obstacles: list[list[float]]) -> float | None:
    if overlap(img[0], img[2], cap[0], cap[2]) > 2:
        if img[3] <= cap[1] + 2:  # image above the caption
            if not _blocked(cap, (img[0], img[2]), img[3], cap[1], True, obstacles):
                return max(0.0, cap[1] - img[3])
        elif img[1] >= cap[3] - 2:  # image below the caption
            if not _blocked(cap, (img[0], img[2]), cap[3], img[1], True, obstacles):
                return max(0.0, img[1] - cap[3]) + BELOW_PENALTY
    elif overlap(img[1], img[3], cap[1], cap[3]) > 0:
        right = cap[0] >= img[2]
        gap = cap[0] - img[2] if right else img[0] - cap[2]
        lo, hi = (img[2], cap[0]) if right else (cap[2], img[0])
        if 0 <= gap <= SIDE_MAX_GAP and not _blocked(cap, (cap[1], cap[3]), lo, hi, False,
                                                     obstacles):
            return gap + SIDE_PENALTY
    return None


def reading_order(boxes: list[list[float]]) -> list[int]:
    """Indices in reading order: rows by vertical centre (tolerance half a panel), then x."""
    if not boxes:
        return []
    heights = sorted(b[3] - b[1] for b in boxes)
    tol = heights[len(heights) // 2] / 2
    order = sorted(range(len(boxes)), key=lambda i: (boxes[i][1] + boxes[i][3]) / 2)
    rows: list[list[int]] = []
    for i in order:
        cy = (boxes[i][1] + boxes[i][3]) / 2
        if rows and abs(cy - (boxes[rows[-1][0]][1] + boxes[rows[-1][0]][3]) / 2) <= tol:
            rows[-1].append(i)
        else:
            rows.append([i])
    return [i for row in rows for i in sorted(row, key=lambda k: boxes[k][0])]
