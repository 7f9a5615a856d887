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


def _blocked_v(img: list[float], cap: list[float], y0: float, y1: float,
               obstacles: list[list[float]]) -> bool:
    """Body text or another caption between y0 and y1 across the image's columns?"""
    for o in obstacles:
        if o is cap or o == cap:
            continue
        if overlap(o[0], o[2], img[0], img[2]) > 2 and o[1] >= y0 - 1 and o[3] <= y1 + 1:
            return True
    return False


def _blocked_h(img: list[float], cap: list[float], x0: float, x1: float,
               obstacles: list[list[float]]) -> bool:
    """Body text between a picture and a caption beside it?"""
    for o in obstacles:
        if o is cap or o == cap:
            continue
        if overlap(o[1], o[3], cap[1], cap[3]) > 2 and o[0] >= x0 - 1 and o[2] <= x1 + 1:
            return True
    return False


def pair_cost(img: list[float], cap: list[float], obstacles: list[list[float]]) -> float | None:
    if overlap(img[0], img[2], cap[0], cap[2]) > 2:
        if img[3] <= cap[1] + 2:  # image above the caption
            if not _blocked_v(img, cap, img[3], cap[1], obstacles):
                return max(0.0, cap[1] - img[3])
        elif img[1] >= cap[3] - 2:  # image below the caption
            if not _blocked_v(img, cap, cap[3], img[1], obstacles):
                return max(0.0, img[1] - cap[3]) + BELOW_PENALTY
    elif overlap(img[1], img[3], cap[1], cap[3]) > 0:
        right = cap[0] >= img[2]
        gap = cap[0] - img[2] if right else img[0] - cap[2]
        lo, hi = (img[2], cap[0]) if right else (cap[2], img[0])
        if 0 <= gap <= SIDE_MAX_GAP and not _blocked_h(img, cap, lo, hi, obstacles):
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
