#!/usr/bin/env python3
"""CI: fails when a crate's modules import each other in a cycle.

Granularity: the modules directly under a folder module (src/ itself, and
every `foo/` folder below it). An edge A -> B means a file of A names
`crate::...::B` (or `super::B` from A's own file) for a sibling B. Parent and
child are never a cycle: a folder's mod.rs declares what its children share.
With no arguments it checks every crate of the repository.
"""
import re, sys, pathlib
from collections import defaultdict

PATH = re.compile(r'\b(crate|super)((?:::\w+)+)')

def module_path(src, f):
    parts = list(f.relative_to(src).with_suffix('').parts)
    if parts[-1] in ('mod', 'lib', 'main'):
        parts = parts[:-1]
    return parts

def strip_comments(text):
    text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
    return re.sub(r'//[^\n]*', '', text)

def edges_of(src):
    files = [f for f in src.rglob('*.rs')]
    mods = {tuple(module_path(src, f)) for f in files}
    edges = defaultdict(set)
    for f in files:
        me = module_path(src, f)
        text = strip_comments(f.read_text())
        # `use a::{b, c}` groups: expand the first level of braces.
        for m in PATH.finditer(text):
            root, rest = m.group(1), [p for p in m.group(2).split('::') if p]
            if root == 'crate':
                target = rest
            else:
                # `me` is already the module (mod.rs stripped), so one `super` drops one part.
                ups = 1
                while rest and rest[0] == 'super':
                    rest = rest[1:]; ups += 1
                base = me[:len(me) - ups] if ups <= len(me) else []
                target = base + rest
            # longest known module prefix of the target
            while target and tuple(target) not in mods:
                target = target[:-1]
            add_edge(edges, me, list(target))
        for base, names in brace_groups(text, me):
            for name in names:
                target = base + [name]
                while target and tuple(target) not in mods:
                    target = target[:-1]
                add_edge(edges, me, target)
    return edges

GROUP = re.compile(r'\b(crate|super)((?:::(?:\w+))*)::\{')

def brace_groups(text, me):
    """`use crate::a::{b::{C, D}, e::F}`: yields (["a"], ["b", "e"]), nested groups flattened."""
    for m in GROUP.finditer(text):
        parts = [p for p in m.group(2).split('::') if p]
        if m.group(1) == 'crate':
            base = parts
        else:
            ups = 1
            while parts and parts[0] == 'super':
                parts = parts[1:]; ups += 1
            base = me[:len(me) - ups] + parts
        depth, item, names, i = 1, '', [], m.end()
        while i < len(text) and depth:
            c = text[i]
            if c == '{': depth += 1
            elif c == '}': depth -= 1
            if depth == 1 and c == ',':
                names.append(item); item = ''
            elif depth >= 1 and not (depth == 1 and c == '}'):
                item += c
            i += 1
        names.append(item)
        yield base, [n.strip().split('::')[0].split(' ')[0].strip('{') for n in names if n.strip()]

def add_edge(edges, me, target):
    # Compare at the level where the two paths part: siblings under a common parent.
    i = 0
    while i < len(me) and i < len(target) and me[i] == target[i]:
        i += 1
    if i == len(me) or i == len(target):
        return  # same module, ancestor or descendant
    parent = tuple(me[:i])
    edges[parent].add((me[i], target[i]))

def cycles(pairs):
    graph = defaultdict(set)
    for a, b in pairs:
        graph[a].add(b)
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1
        stack.append(v); on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1:
                out.append(sorted(comp))
    for v in list(graph):
        if v not in index:
            visit(v)
    return out

def crate_sources(root):
    """Every crate's src/ folder in the repository (the fuzz crate included)."""
    for manifest in sorted(root.rglob('Cargo.toml')):
        if any(part in ('target', '.git', 'node_modules') for part in manifest.parts):
            continue
        if (manifest.parent / 'src').is_dir():
            yield manifest.parent / 'src'

root = pathlib.Path(__file__).resolve().parent.parent
failed = False
for src in [pathlib.Path(p) for p in sys.argv[1:]] or crate_sources(root):
    for parent, pairs in sorted(edges_of(src).items()):
        for comp in cycles(pairs):
            failed = True
            where = '::'.join(('crate',) + parent)
            detail = ', '.join(f'{a} -> {b}' for a, b in sorted(pairs) if a in comp and b in comp)
            print(f'{src}: import cycle among {where}::{{{", ".join(comp)}}}: {detail}')
sys.exit(1 if failed else 0)
