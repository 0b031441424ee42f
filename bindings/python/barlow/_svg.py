"""A failure tree drawn as SVG (Tree._repr_svg_ in Jupyter).

One box per node with its size, failures, ER and EC (and IV for a leaf),
the split feature under internal nodes, and edges labelled "≤ t" / "> t".
Boxes are coloured by error rate from the base error rate (pale) to the
tree's highest ER (red); nodes at or below the BER are grey. Every text
sits on an explicitly filled shape, so the drawing reads the same on light
and dark notebook themes.
"""
from html import escape

FONT = 12          # px
CHAR_W = 0.62 * FONT
LINE_H = 16
PAD = 8
GAP_X, GAP_Y = 24, 56
PALE, RED, GREY = (254, 237, 222), (239, 101, 72), (217, 217, 217)
TEXT, EDGE = "#1a1a1a", "#8c8c8c"


def _colour(er, ber, top):
    if er <= ber or top <= ber:
        return "#%02x%02x%02x" % GREY
    t = min(1.0, (er - ber) / (top - ber))
    return "#%02x%02x%02x" % tuple(round(a + (b - a) * t) for a, b in zip(PALE, RED))


def _feature(f, names):
    if names and f < len(names) and names[f]:
        return f"{names[f]} (feature {f})"
    return f"feature {f}"


def _lines(node, names):
    lines = [f"{node['size']} rows, {node['failures']} failures",
             f"ER {100 * node['error_rate']:.1f}%  EC {100 * node['error_coverage']:.1f}%"]
    if node["is_leaf"]:
        lines.append(f"IV {node['importance']:.3f}")
    else:
        lines.insert(0, _feature(node["feature"], names))
    return lines


def _layout(nodes, width, height):
    """{id: (x centre, y top)}: leaves side by side in order, parents centred
    over their children."""
    pos, next_x = {}, [0.0]

    def place(i):
        n = nodes[i]
        y = n["depth"] * (height + GAP_Y)
        if n["is_leaf"]:
            pos[i] = (next_x[0] + width / 2, y)
            next_x[0] += width + GAP_X
        else:
            place(n["left"])
            place(n["right"])
            pos[i] = ((pos[n["left"]][0] + pos[n["right"]][0]) / 2, y)

    place(0)
    return pos


def _text(x, y, s, anchor="middle", weight="normal"):
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{TEXT}" '
            f'font-weight="{weight}">{escape(s)}</text>')


def _edge(a, b, label, height):
    (x1, y1), (x2, y2) = a, b
    y1 += height
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    w = len(label) * CHAR_W + 8
    return (f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke="{EDGE}" stroke-width="1.5"/>'
            f'<rect x="{mx - w / 2:.1f}" y="{my - 9:.1f}" width="{w:.1f}" height="18" rx="9" '
            f'fill="#ffffff" stroke="{EDGE}"/>' + _text(mx, my + 4, label))


def _box(node, x, y, width, height, fill, names):
    thick = 2.5 if node["is_leaf"] and node["predicts_failure"] else 1
    out = [f'<rect x="{x - width / 2:.1f}" y="{y:.1f}" width="{width:.1f}" '
           f'height="{height:.1f}" rx="6" fill="{fill}" stroke="#444444" '
           f'stroke-width="{thick}"><title>node {node["id"]}</title></rect>']
    for k, line in enumerate(_lines(node, names)):
        bold = "bold" if k == 0 and not node["is_leaf"] else "normal"
        out.append(_text(x, y + PAD + LINE_H * (k + 1) - 4, line, weight=bold))
    return out


def tree_svg(tree, names=None):
    """The SVG text of a fitted tree (a barlow.Tree). names: words for the
    feature columns (a list, as for Tree.rule_text)."""
    nodes, summary = tree.nodes, tree.summary
    ber = summary["base_error_rate"]
    top = max(n["error_rate"] for n in nodes)
    texts = [line for n in nodes for line in _lines(n, names)]
    width = max(len(t) for t in texts) * CHAR_W + 2 * PAD
    height = max(len(_lines(n, names)) for n in nodes) * LINE_H + 2 * PAD
    pos = _layout(nodes, width, height)
    body = []
    for n in nodes:
        if not n["is_leaf"]:
            t = f"{n['threshold']:.4g}"
            body.append(_edge(pos[n["id"]], pos[n["left"]], f"≤ {t}", height))
            body.append(_edge(pos[n["id"]], pos[n["right"]], f"> {t}", height))
    for n in nodes:
        x, y = pos[n["id"]]
        body += _box(n, x, y, width, height, _colour(n["error_rate"], ber, top), names)
    caption = (f"colour: ER from the BER {100 * ber:.1f}% (pale) to {100 * top:.1f}% (red); "
               "grey: ER ≤ BER; thick border: failure leaf")
    caption_w = len(caption) * CHAR_W * 0.8 + 8
    w = max(max(x for x, _ in pos.values()) + width / 2 + 2, caption_w)
    h = max(y for _, y in pos.values()) + height + 2
    body.append(f'<rect x="0" y="{h + 4:.1f}" width="{caption_w:.1f}" '
                f'height="18" rx="4" fill="#ffffff"/>')
    body.append(_text(4, h + 17, caption, anchor="start").replace(
        "<text ", f'<text font-size="{FONT * 0.9:.0f}" ', 1))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w + 2:.0f}" '
            f'height="{h + 26:.0f}" viewBox="-1 -1 {w + 2:.0f} {h + 26:.0f}" '
            f'font-family="sans-serif" font-size="{FONT}">' + "".join(body) + "</svg>")
