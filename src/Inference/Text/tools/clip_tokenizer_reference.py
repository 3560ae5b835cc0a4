"""Reference model of transformers' slow CLIPTokenizer (no ftfy), used to fuzz ClipTokenizer against Python.

Run with the regex package installed:
  python3 clip_tokenizer_reference.py <tokenizer folder> "<|startoftext|>,<|endoftext|>[,!]" gen <seed> prompts.json
  python3 clip_tokenizer_reference.py <tokenizer folder> "<specials>" cmp prompts.json > python_tokens.jsonl
and compare with ClipTokenizer.Tokenize on the same prompts (one JSON list of tokens per line).
"""
import json, sys, unicodedata, random
import regex as re

def is_ws(c):
    return c in " \t\n\r" or unicodedata.category(c) == "Zs"
def is_ctrl(c):
    if c in "\t\n\r": return False
    return unicodedata.category(c).startswith("C")
def is_cjk(cp):
    return (0x4E00<=cp<=0x9FFF or 0x3400<=cp<=0x4DBF or 0x20000<=cp<=0x2A6DF or 0x2A700<=cp<=0x2B73F or
            0x2B740<=cp<=0x2B81F or 0x2B820<=cp<=0x2CEAF or 0xF900<=cp<=0xFAFF or 0x2F800<=cp<=0x2FA1F)
def clean(text):
    out=[]
    for c in text:
        cp=ord(c)
        if cp==0 or cp==0xFFFD or is_ctrl(c): continue
        out.append(" " if is_ws(c) else c)
    text="".join(out)
    text="".join(f" {c} " if is_cjk(ord(c)) else c for c in text)
    text=unicodedata.normalize("NFC", text)
    toks=text.strip().split()
    toks=[t.lower() for t in toks]
    return " ".join(" ".join(toks).strip().split())

def bytes_to_unicode():
    bs=list(range(ord("!"),ord("~")+1))+list(range(ord("¡"),ord("¬")+1))+list(range(ord("®"),ord("ÿ")+1))
    cs=bs[:]; n=0
    for b in range(256):
        if b not in bs: bs.append(b); cs.append(256+n); n+=1
    return dict(zip(bs,[chr(c) for c in cs]))
BE=bytes_to_unicode()
folder=sys.argv[1]; specials=sys.argv[2].split(",")
merges=open(folder+"/merges.txt",encoding="utf-8").read().strip().split("\n")[1:49152-256-2+1]
ranks={tuple(m.split()):i for i,m in enumerate(merges)}
pat=re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", re.IGNORECASE)
cache={"<|startoftext|>":"<|startoftext|>","<|endoftext|>":"<|endoftext|>"}
def bpe(token):
    if token in cache: return cache[token]
    word=tuple(token[:-1])+(token[-1]+"</w>",)
    while len(word)>1:
        pairs=set(zip(word,word[1:]))
        best=min(pairs,key=lambda p: ranks.get(p,float("inf")))
        if best not in ranks: break
        nw=[];i=0
        while i<len(word):
            if i<len(word)-1 and word[i]==best[0] and word[i+1]==best[1]: nw.append(best[0]+best[1]); i+=2
            else: nw.append(word[i]); i+=1
        word=tuple(nw)
    cache[token]=" ".join(word); return cache[token]
def split_special(text):
    out=[];start=0;i=0
    sp=sorted(specials,key=len,reverse=True)
    while i<len(text):
        m=next((s for s in sp if text.startswith(s,i)),None)
        if m is None: i+=1; continue
        if i>start: out.append((text[start:i],False))
        out.append((m,True)); i+=len(m); start=i
    if start<len(text): out.append((text[start:],False))
    return out
def tokenize(text):
    toks=[]
    for seg,sp in split_special(text):
        if sp: toks.append(seg); continue
        for w in re.findall(pat, clean(seg)):
            toks.extend(bpe("".join(BE[b] for b in w.encode("utf-8"))).split(" "))
    return toks

if sys.argv[3]=="gen":
    random.seed(int(sys.argv[4]))
    pools=[ "abcdefghijklmnopqrstuvwxyz ABCXYZ '!?.,:;-_()[]{}<>|/\\\"#$%&*+=~^`@0123456789",
            "àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßſ",
            "\u0300\u0301\u0302\u0303\u0308\u0327\u0323\u031b\u0345\u05b0\u0e48\u302a",
            "ΑΒΓΔΣΟσςΆΈΉ ΪΫ\u0130\u0131İıŉǅǈǋ",
            "東京中文提示词漢字\u3400\U00020000\uf900タワーのひらがなカタカナ한국어\u1100\u1161\u11a8가각",
            "🐱🔥🎨👩\u200d🚀🇯🇵❤️\ufe0f\U0001D400\U0001D41A\U0001D7CE\U00010400\U00010428",
            "\u2028\u2029\u3000\xa0\u2009\x1c\x1f\x0b\x0c\x85\u200b\u00ad\ufeff\x00\x07\ufffd\t\n\r \u180e\ue000",
            "ＦＵＬＬｆｕｌｌ①②③½²₂Ⅰⅱ٣३ﬁ™©ΩÅK\u212a",
            "<|startoftext|><|endoftext|>!!!'s'S'ſ'T'RE'LL'd",
            "ПриветМИРעבריתالعربيةไทยᏣᎳᎩ",
          ]
    prompts=[]
    for n in range(3000):
        k=random.randint(1,40)
        prompts.append("".join(random.choice(random.choice(pools)) if random.random()<0.95 else " " for _ in range(k)))
    json.dump(prompts, open(sys.argv[5],"w"))
else:
    prompts=json.load(open(sys.argv[4]))
    for p in prompts: print(json.dumps(tokenize(p)))
