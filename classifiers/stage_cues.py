"""Hand-written stage cues: groups of words and phrases that signal a funnel stage (or no stage).

Six hundred labelled headlines cannot show every way a newswire says "appoints",
"recalls" or "wins a contract". These groups, written for this project from the
stage definitions (DOMAIN.md and the labelling conventions), give the stage model
one feature per group, so a cue word it never saw in training still counts. Each
group is matched in the whole text and in its lead (the title, up to the first
". "), and the model learns how much each group means for each stage.

Pattern syntax: lowercase words separated by spaces; a word ending in ``*`` matches
any word starting with what precedes the ``*`` (``acquir*`` matches "acquires",
"acquired", "acquiring"). Words are runs of letters, digits, ``&``, ``'`` and ``-``.

``STAGE_CUES`` are broad groups, about four per stage plus the kinds of news that
help no stage (share prices, markets, the economy, sport, politics);
``DETAILED_CUES`` split the same ground finer (appointments apart from departures,
lawsuits apart from regulators, and so on). The model uses both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain, repeat

import numpy as np
from scipy import sparse

from classifiers.features import STAMPS, TokenBatch

STAGE_CUES: dict[str, tuple[str, ...]] = {
    "expand": ("expand*", "expansion*", "new plant*", "new factor*", "new store*", "new branch*", "new office*",
        "opens new", "to open", "will open", "enter*", "foray", "new market*", "new route*", "add flight*",
        "add route*", "new service*", "capacity", "build*", "construct*", "new mine", "grow*"),
    "launch": ("launch*", "unveil*", "introduc*", "debut*", "new product*", "new model*", "new version*", "releas*",
        "prototype*", "next-generation", "new line", "announces new", "rolls out new", "new phone*", "new chip*",
        "beta"),
    "funding": ("funding", "financing", "raises", "raised", "offering*", "ipo", "bond issue", "eurobond*",
        "private placement", "venture capital", "series a", "series b", "credit facility", "credit line", "notes due",
        "debentures", "issue of", "capital injection", "investment in", "invest*"),
    "acquire": ("acquir*", "acquisition*", "to buy", "buys", "bought", "purchas*", "takeover*", "merg*", "stake in",
        "bid for", "bids for", "buyout", "snap* up", "take over"),
    "hire": ("hire*", "hiring", "recruit*", "talent", "new staff", "new jobs", "add* jobs", "create* jobs"),
    "demand": ("demand", "orders rise", "booming", "boom", "surge in", "growth market", "opportunit*"),
    "research": ("phase 3", "phase iii", "trial data", "clinical", "study", "studies", "patent*", "research",
        "develop*", "innovation*", "technology"),
    "results": ("profit*", "net income", "net loss", "loss", "losses", "earnings", "revenue*", "sales rose",
        "sales fell", "quarter*", "qtr", "shr", "cts", "net", "eps", "results", "fiscal", "annual report", "turnover",
        "operating income", "margin*", "dividend*", "payout", "1st", "2nd", "3rd", "4th", "first-half", "half-year",
        "year-end", "nine months", "six months", "mln vs", "pct"),
    "outlook": ("guidance", "forecast*", "outlook", "expects", "expected to", "predict*", "warn*", "targets",
        "projects", "budget*", "spending", "capital expenditure*", "capex"),
    "restructure": ("restructur*", "reorganis*", "reorganiz*", "layoff*", "lay off", "lays off", "job cut*",
        "cut jobs", "cuts jobs", "cut* workforce", "workforce", "redundanc*", "close plant*", "closes plant*",
        "plant closing*", "shut*", "write-down*", "writedown*", "write-off*", "charge", "cost cut*", "cost-cut*",
        "savings", "downsiz*", "bankrupt*", "chapter 11", "insolven*", "administration"),
    "divest": ("divest*", "sell unit", "sells unit", "to sell", "sells", "sale of", "spin off", "spin-off", "spinoff",
        "dispos*", "exit*"),
    "credit": ("moody's", "s&p", "standard and poor's", "fitch", "credit rating*", "debt rating*", "downgrad*",
        "upgrad*", "debt", "loan*", "borrow*", "refinanc*", "default*"),
    "ownership": ("stake", "shareholder*", "stockholder*", "holding*", "tender offer", "hostile", "proxy",
        "takeover bid", "buyback", "buy back", "repurchas*", "activist*", "poison pill", "13d"),
    "labour": ("union*", "strike*", "wage*", "worker*", "employee*", "staff", "pension*", "labor", "labour",
        "walkout", "output", "production cut*", "operations", "plant*", "factory", "factories"),
    "price": ("price*", "pricing", "fare*", "cheaper", "costlier", "discount*", "cost*", "fee*", "rate cut*",
        "prime rate", "raise* rate*", "cut* rate*", "tariff*", "premium*", "subscription*", "per month", "per year",
        "free", "surcharge*", "mark* up"),
    "vendor": ("vendor*", "supplier*", "switch* to", "adopt*", "select*", "choos*", "chose*", "standardis*",
        "standardiz*", "to use", "uses", "based on", "powered by", "runs on", "platform*", "software", "chip*",
        "processor*", "server*", "open source", "open-source", "linux", "database*", "cloud"),
    "compete": ("rival*", "compet*", "challeng*", "versus", "vs", "take on", "battle*", "war", "market share",
        "alternative"),
    "exec": ("appoint*", "names", "named", "elect*", "successor*", "succeed*", "resign*", "steps down", "step down",
        "stepping down", "retire*", "quit*", "depart*", "ousted", "oust*", "fired", "leaves", "to leave", "joins",
        "hires", "new head", "promot*", "chief executive", "ceo", "cfo", "cio", "cto", "coo", "president", "chairman",
        "chairwoman", "chief", "executive*", "director*", "board", "vice", "management", "leadership", "exec"),
    "tender": ("tender*", "rfp", "request for proposal*", "solicitation*", "invit* bids", "seeks bids",
        "seeking bids", "call for bids", "procurement", "bidder*", "bidding", "shortlist*", "short-list*"),
    "legal": ("lawsuit*", "sue*", "sued", "suing", "suit", "court*", "judge*", "ruling*", "rules", "ruled",
        "litigation", "settle*", "verdict*", "jury", "appeal*", "injunction*", "class action", "plaintiff*",
        "attorney*", "lawyer*", "legal", "infring*", "patent suit", "charges", "charged", "indict*", "fraud*",
        "allegation*", "alleg*"),
    "regulator": ("regulat*", "sec", "ftc", "fcc", "fda", "doj", "justice department", "commission", "probe*",
        "investigat*", "inquiry", "antitrust", "anti-trust", "competition authority", "watchdog*", "fine*", "fined",
        "penalt*", "sanction*", "ban*", "banned", "licen*", "approv*", "clearance", "clears", "blocks", "blocked",
        "compliance", "comply", "law*", "legislation", "bill", "rule*", "congress", "senate", "senator*",
        "parliament", "eu", "european commission", "ofcom", "fca", "authorities", "government"),
    "trade": ("tariff*", "trade talks", "trade deal", "trade war", "quota*", "import dut*", "duties", "dumping",
        "embargo*", "negotiat*", "talks", "terms", "contract talks"),
    "contract": ("contract*", "deal*", "agreement*", "agree*", "sign*", "pact*", "accord", "order*", "award*", "wins",
        "won", "win", "selected by", "chosen by", "partner*", "team* up", "teams with", "alliance*", "joint venture",
        "venture", "collaborat*", "licensing", "supply", "memorandum", "letter of intent", "definitive",
        "completes acquisition", "completed acquisition", "completes purchase", "closes", "closed", "completes",
        "approves merger", "approve merger", "vote* for"),
    "rollout": ("roll out", "rolls out", "rolling out", "rolled out", "rollout*", "roll-out*", "deploy*",
        "implement*", "install*", "go live", "goes live", "went live", "live", "in service", "begin* service",
        "start* service", "start* production", "begin* production", "start-up", "startup", "commission*", "ship*",
        "deliver*", "integrat*", "migrat*", "complete* construction", "complet* installation", "up and running",
        "operational", "comes online", "on stream", "onstream", "first flight", "pilot*", "trial run", "upgrade of",
        "begin*", "start*", "available"),
    "incident": ("outage*", "disrupt*", "crash*", "glitch*", "bug*", "flaw*", "vulnerab*", "hack*", "breach*",
        "cyber*", "attack*", "virus*", "viruses", "worm*", "malware", "phishing", "spam*", "ransomware", "down",
        "offline", "failure*", "fail*", "problem*", "error*", "fault*", "explosion", "blast", "fire", "leak*",
        "spill*", "accident*", "crash", "grounded", "grounding", "delay*", "halt*", "suspend*", "reopen*", "restor*",
        "security"),
    "recall": ("recall*", "withdraw*", "withdrawn", "pulled", "pull* from", "defect*", "contaminat*", "safety",
        "unsafe", "danger*", "health risk*", "side effect*"),
    "customer": ("complain*", "complaint*", "boycott*", "refund*", "compensat*", "apolog*", "customer*", "consumer*",
        "user*", "subscriber*", "satisf*", "dissatisf*", "cancel*", "cancellation*", "renew*", "renewal*", "churn",
        "terminat*", "lost", "loses", "drop*", "patch*", "support", "service", "help", "fix*", "reassur*"),
    "stock": ("shares", "stock", "stocks", "52-week", "52-wk", "52 week", "high", "highs", "lows", "trading",
        "traded", "price target", "pt", "upgrades", "downgrades", "outperform", "underperform", "overweight",
        "underweight", "neutral", "maintains", "reiterat*", "initiat* coverage", "coverage", "analyst*", "buy rating",
        "hold rating", "sell rating", "rating", "short interest", "short", "options", "option", "unusual", "movers",
        "moving", "gainers", "losers", "premarket", "pre-market", "mid-day", "session", "cramer", "mad money",
        "benzinga", "etf*", "fund", "portfolio", "investors", "dow", "nasdaq", "s&p 500", "index", "indexes", "rally",
        "rallies", "slump*", "tumbl*", "jump*", "soar*", "plunge*", "fall*", "fell", "rise*", "rose", "gain*",
        "slip*", "climb*", "sink*", "sank", "lower", "higher", "wall street", "futures"),
    "macro": ("gdp", "inflation", "unemployment", "jobless", "trade deficit", "trade surplus", "trade gap",
        "central bank", "fed", "federal reserve", "bundesbank", "money supply", "interest rate*", "economy",
        "economic", "recession", "treasury", "treasuries", "yield*", "bond*", "dollar", "yen", "sterling", "currency",
        "currencies", "forex", "bank of england", "ecb", "imf", "opec", "crude", "barrel*", "bpd", "cpi",
        "statistic*", "billion dlrs", "reserves"),
    "sport": ("game*", "match*", "season", "cup", "olympic*", "championship*", "team*", "coach*", "tournament*",
        "player*", "league", "score*", "goal*", "victory", "beat", "beats", "defeat*", "win over", "nfl", "nba",
        "mlb", "nascar", "golf", "tennis", "soccer", "football", "baseball", "cricket", "race"),
    "politics": ("election*", "vote", "voters", "minister", "prime minister", "president bush", "kerry", "trump",
        "war", "troops", "military", "army", "iraq", "iran", "rebels", "militants", "killed", "police", "protest*",
        "campaign"),
}

DETAILED_CUES: dict[str, tuple[str, ...]] = {
    "p_expand": ("expand*", "expansion*", "enter*", "foray", "new market*", "overseas", "abroad", "international*",
        "grow*", "growth"),
    "p_newsite": ("new plant*", "new factor*", "new store*", "new branch*", "new office*", "opens", "to open",
        "will open", "new mine", "new hub", "new route*", "add flight*", "add* routes", "new service*", "capacity",
        "build*", "construct*", "new facility", "facilities"),
    "p_launch": ("launch*", "unveil*", "introduc*", "debut*", "new product*", "new model*", "new version*", "releas*",
        "prototype*", "next-generation", "new line", "announces new", "new phone*", "new chip*", "beta", "available",
        "availability", "preview*", "demo*", "showcas*"),
    "p_funding": ("funding", "financing", "raises", "raised", "raise", "offering*", "ipo", "bond issue", "eurobond*",
        "private placement", "venture capital", "series a", "series b", "series c", "credit facility", "credit line",
        "notes due", "debenture*", "issue of", "capital injection", "invest*", "investor*", "backing", "backed",
        "floats", "listing"),
    "p_acquire": ("acquir*", "acquisition*", "to buy", "buys", "bought", "purchas*", "takeover*", "merg*", "stake in",
        "bid for", "bids for", "buyout", "snap* up", "take over", "to take"),
    "p_hire": ("hire*", "hiring", "recruit*", "talent", "new jobs", "add* jobs", "create* jobs", "new staff"),
    "p_demand": ("demand", "booming", "boom", "surge in", "opportunit*", "customers want", "popular*"),
    "p_research": ("phase 3", "phase iii", "phase 2", "clinical", "study", "studies", "data from", "research*",
        "develop*", "innovation*", "breakthrough", "milestone", "record"),
    "q_results": ("profit*", "net income", "net loss", "loss", "losses", "earnings", "revenue*", "sales", "quarter*",
        "qtr", "results", "fiscal", "annual", "turnover", "operating", "margin*", "first-half", "half-year",
        "year-end", "nine months", "six months", "full-year", "full year", "ebitda"),
    "q_wire": ("shr", "cts", "net", "mln vs", "vs", "avg shrs", "oper", "pct", "dlrs", "stg", "p"),
    "q_dividend": ("dividend*", "payout", "qtly", "div", "split", "payable", "record date"),
    "q_outlook": ("guidance", "forecast*", "outlook", "expects", "expected", "predict*", "warn*", "warning*",
        "projects", "projection*", "estimate*", "sees", "target*"),
    "q_budget": ("budget*", "spending", "capital expenditure*", "capex", "costs", "expenses", "cash"),
    "q_restructure": ("restructur*", "reorganis*", "reorganiz*", "overhaul*", "shake-up", "shakeup", "streamlin*",
        "consolidat*", "downsiz*", "cost cut*", "cost-cut*", "savings", "efficienc*"),
    "q_layoffs": ("layoff*", "lay off", "lays off", "laid off", "job cut*", "cut jobs", "cuts jobs", "cut* workforce",
        "workforce", "redundanc*", "jobs", "headcount", "furlough*"),
    "q_closures": ("close plant*", "closes plant*", "closing", "closure*", "shut*", "idle*", "halt* production",
        "write-down*", "writedown*", "write-off*", "writeoff*", "charge", "charges", "impairment*", "provision*"),
    "q_distress": ("bankrupt*", "chapter 11", "insolven*", "administration", "default*", "rescue", "bailout",
        "bail-out", "debt", "debts", "loan*", "borrow*", "refinanc*", "liquidity"),
    "q_divest": ("divest*", "sell unit", "sells unit", "to sell", "sells", "sale of", "spin off", "spin-off",
        "spinoff", "spins off", "dispos*", "exit*", "unit", "subsidiary", "division", "business"),
    "q_credit": ("moody's", "moodys", "s&p", "standard and poor's", "fitch", "credit rating*", "debt rating*",
        "rating*", "ratings", "outlook negative", "investment grade", "junk"),
    "q_owner": ("stake", "shareholder*", "stockholder*", "holding*", "tender offer", "hostile", "proxy",
        "takeover bid", "buyback", "buy back", "repurchas*", "activist*", "poison pill", "13d", "owner*", "ownership",
        "control", "family", "majority"),
    "q_labour": ("union*", "strike*", "wage*", "worker*", "employee*", "staff", "pension*", "labor", "labour",
        "walkout", "pay", "bonus*", "compensation"),
    "q_operations": ("output", "production", "produc*", "operations", "operat*", "plant*", "factory", "factories",
        "mine", "refinery", "capacity", "supply chain", "inventor*", "strategy", "strategic", "plan*", "organisation",
        "organization", "structure"),
    "r_price": ("price*", "pricing", "priced", "fare*", "cheaper", "cheap", "costlier", "expensive", "discount*",
        "fee*", "prime rate", "surcharge*", "mark* up", "markdown*", "per month", "per year", "free", "subscription*",
        "premium*", "rebate*", "cost", "costs", "charges", "charging", "charge"),
    "r_pricemove": ("rais* price*", "raise* rate*", "hike*", "increase* price*", "cut* price*", "lower* price*",
        "price war*", "price cut*", "price rise*", "price increase*", "undercut*"),
    "r_vendor": ("vendor*", "supplier*", "switch* to", "switch* from", "adopt*", "select*", "choos*", "chose*",
        "standardis*", "standardiz*", "to use", "uses", "using", "based on", "powered by", "runs on", "move* to",
        "moving to", "replac*", "dump*", "drops"),
    "r_tech": ("platform*", "software", "chip*", "processor*", "server*", "open source", "open-source", "linux",
        "database*", "cloud", "hardware", "technolog*", "system*", "network*", "app", "apps", "device*", "wireless",
        "broadband", "internet", "web", "online", "digital", "computer*", "pc*", "laptop*", "phone*", "smartphone*",
        "tablet*", "search", "storage", "security software", "it"),
    "r_compete": ("rival*", "compet*", "challeng*", "versus", "take on", "takes on", "battle*", "market share",
        "alternative*", "against", "beat*", "outsell*", "catch up", "lead*", "leader*"),
    "o_appoint": ("appoint*", "names", "named", "naming", "elect*", "promot*", "hires", "hired", "joins", "taps",
        "tapped", "picks", "recruits", "new head", "to head", "to lead", "takes over", "successor*", "succeed*",
        "replac*"),
    "o_depart": ("resign*", "steps down", "step down", "stepping down", "stepped down", "retire*", "quit*", "depart*",
        "ousted", "oust*", "fired", "leaves", "to leave", "leaving", "exit", "exits", "departure*", "resignation*",
        "sacked", "dismiss*"),
    "o_title": ("chief executive", "ceo", "cfo", "cio", "cto", "coo", "president", "chairman", "chairwoman", "chief",
        "executive*", "director*", "board", "vice", "management", "leadership", "exec", "execs", "officer*",
        "head of", "managing director", "md", "partner", "treasurer", "general counsel", "procurement head", "buyer"),
    "o_tender": ("tender*", "rfp", "rfps", "request for proposal*", "request for information", "solicitation*",
        "invit* bids", "seeks bids", "seeking bids", "call for bids", "procurement", "bidder*", "bidding",
        "shortlist*", "short-list*", "bids", "bid", "proposal*", "pitch*"),
    "n_lawsuit": ("lawsuit*", "sue*", "sued", "suing", "suit", "suits", "litigation", "class action", "plaintiff*",
        "complaint filed", "files suit", "legal action", "infring*", "patent suit"),
    "n_court": ("court*", "judge*", "ruling*", "ruled", "verdict*", "jury", "appeal*", "injunction*", "trial",
        "attorney*", "lawyer*", "legal", "settle*", "damages", "indict*", "charged", "guilty", "prosecut*", "fraud*",
        "allegation*", "alleg*", "accus*"),
    "n_regulator": ("regulat*", "sec", "ftc", "fcc", "fda", "doj", "justice department", "commission", "watchdog*",
        "authorit*", "competition authority", "ofcom", "fca", "cma", "ofgem", "eu", "european commission", "brussels",
        "nrc", "epa", "faa", "agency", "antitrust", "anti-trust", "monopol*", "competition"),
    "n_probe": ("probe*", "investigat*", "inquiry", "inquir*", "scrutiny", "audit*", "review*", "examin*",
        "subpoena*", "hearing*", "testif*", "briefing", "question*"),
    "n_penalty": ("fine*", "fined", "penalt*", "sanction*", "ban", "bans", "banned", "barred", "blocks", "blocked",
        "freeze*", "froze*", "halt*", "order* to", "forced to"),
    "n_rules": ("rule", "rules", "law", "laws", "legislation", "bill", "act", "regulation*", "directive*",
        "compliance", "comply", "licen*", "permit*", "approv*", "clearance", "clears", "cleared", "congress",
        "senate", "senator*", "parliament", "lawmakers", "government", "policy", "policies", "privacy", "tax",
        "taxes", "subsid*"),
    "n_trade": ("tariff*", "trade talks", "trade deal", "trade war", "quota*", "import dut*", "duties", "dumping",
        "embargo*", "negotiat*", "talks", "terms", "protectionis*", "trade barrier*", "gatt", "wto"),
    "c_contract": ("contract*", "agreement*", "pact*", "accord", "memorandum", "letter of intent", "mou",
        "definitive", "licensing agreement", "supply deal", "deal", "deals"),
    "c_sign": ("sign*", "agree*", "agreed", "seal*", "clinch*", "strike* deal", "strikes", "struck", "reach*",
        "finalis*", "finaliz*", "ink*", "conclud*"),
    "c_order": ("order*", "award*", "wins", "won", "win", "winning", "selected by", "chosen by", "picked by",
        "purchase order", "worth", "valued at", "million contract", "mln dlr"),
    "c_partner": ("partner*", "team* up", "teams with", "teaming", "alliance*", "joint venture", "venture",
        "collaborat*", "cooperat*", "co-operat*", "tie-up", "tie up", "ties up", "link* up", "join* forces",
        "together", "with"),
    "c_complete": ("completes acquisition", "completed acquisition", "completes purchase", "completes merger",
        "closes acquisition", "closed", "completes", "completed", "approves merger", "approve merger", "approves",
        "approved", "approval*", "vote* for", "shareholders approve", "clears"),
    "d_rollout": ("roll out", "rolls out", "rolling out", "rolled out", "rollout*", "roll-out*", "deploy*",
        "implement*", "introduc* at", "extend* to", "expand* to", "across", "nationwide"),
    "d_install": ("install*", "go live", "goes live", "went live", "live", "in service", "into service",
        "operational", "comes online", "come online", "on stream", "onstream", "up and running", "commission*",
        "switch* on", "turn* on", "connect*", "complete* construction", "complet* installation", "completes",
        "finish*"),
    "d_start": ("begin*", "began", "start*", "start-up", "startup", "commenc*", "first", "initial", "kick* off",
        "pilot*", "trial run", "test*", "opens", "opening", "inaugurat*", "debut"),
    "d_ship": ("ship*", "deliver*", "supplies", "supplied", "shipment*", "handover", "hand over", "hands over",
        "delay*", "ahead of schedule", "on schedule", "behind schedule", "schedule", "backlog"),
    "d_integrate": ("integrat*", "migrat*", "upgrade of", "upgrad*", "convert*", "conversion", "transition*",
        "adoption", "rolled", "project*", "programme", "program", "infrastructure", "build-out"),
    "s_outage": ("outage*", "disrupt*", "crash*", "glitch*", "bug", "bugs", "downtime", "down", "offline", "failure*",
        "fail*", "error*", "fault*", "problem*", "issue*", "trouble*", "delay*", "grounded", "grounding", "suspend*",
        "halt*", "reopen*", "restor*", "resum*", "back online", "slow*"),
    "s_security": ("hack*", "breach*", "cyber*", "attack*", "virus*", "worm*", "malware", "phishing", "spam*",
        "ransomware", "flaw*", "vulnerab*", "exploit*", "patch*", "security", "scam*", "stolen", "theft", "leak*",
        "spyware", "password*", "accounts"),
    "s_accident": ("explosion*", "explod*", "blast", "fire", "fires", "leak*", "spill*", "accident*", "crash",
        "injur*", "dead", "killed", "evacuat*", "damage*", "storm", "hurricane", "flood*", "disaster"),
    "s_recall": ("recall*", "withdraw*", "withdrawn", "pulled", "pull* from", "defect*", "contaminat*", "safety",
        "unsafe", "danger*", "health risk*", "side effect*", "faulty", "tainted", "mercury", "toxic"),
    "s_complaint": ("complain*", "complaint*", "boycott*", "refund*", "compensat*", "apolog*", "angry", "anger",
        "backlash", "outrage", "protest*", "criticis*", "criticiz*", "frustrat*", "unhappy", "dissatisf*", "satisf*",
        "consumer champion*", "ombudsman", "misleading"),
    "s_customer": ("customer*", "consumer*", "user*", "subscriber*", "client*", "passenger*", "patient*",
        "advertiser*", "account holder*", "members", "shoppers", "buyers"),
    "s_relationship": ("cancel*", "cancellation*", "renew*", "renewal*", "churn", "terminat*", "lost", "loses",
        "lose", "drop*", "sever*", "cut* ties", "ends", "end", "switch* away", "defect*", "retain*", "retention",
        "loyal*", "support", "help", "fix*", "reassur*", "service", "repair*", "warrant*", "replace*", "upgrade"),
    "z_shares": ("shares", "stock", "stocks", "share price", "trading", "traded", "trade", "high", "highs", "low",
        "lows", "52-week", "52-wk", "52 week", "movers", "moving", "gainers", "losers", "premarket", "pre-market",
        "mid-day", "midday", "session", "intraday", "volume", "short interest", "shorts", "short", "options",
        "option", "unusual", "calls", "puts"),
    "z_moves": ("rally", "rallies", "slump*", "tumbl*", "jump*", "soar*", "plunge*", "plummet*", "fall*", "fell",
        "rise*", "rose", "gain*", "slip*", "climb*", "sink*", "sank", "lower", "higher", "up", "down", "surg*",
        "spike*", "dip*", "edg*", "percent", "pct", "point*", "record"),
    "z_analyst": ("price target", "pt", "upgrades", "downgrades", "upgraded", "downgraded", "outperform",
        "underperform", "overweight", "underweight", "neutral", "equal-weight", "market perform", "maintains",
        "reiterat*", "initiat*", "coverage", "analyst*", "buy rating", "hold rating", "sell rating", "buy", "hold",
        "sell", "raises target", "lowers target", "target to", "estimates", "conviction", "top pick*"),
    "z_market": ("market", "markets", "dow", "nasdaq", "s&p 500", "s&p", "ftse", "nikkei", "dax", "index", "indexes",
        "indices", "wall street", "futures", "cramer", "mad money", "benzinga", "etf*", "fund", "funds", "portfolio",
        "investors", "investing", "valuation*", "dividend stocks", "stock market", "bull*", "bear*", "hedge fund*",
        "berkshire", "buffett", "week ahead", "lightning round", "watch"),
    "z_macro": ("gdp", "inflation", "unemployment", "jobless", "trade deficit", "trade surplus", "trade gap",
        "central bank", "fed", "federal reserve", "bundesbank", "money supply", "interest rate*", "economy",
        "economic", "economist*", "recession", "treasury", "treasuries", "yield*", "bond*", "dollar", "yen",
        "sterling", "mark", "marks", "currency", "currencies", "forex", "bank of england", "ecb", "imf", "opec",
        "crude", "barrel*", "bpd", "cpi", "statistic*", "reserves", "deficit", "surplus", "balance of payments",
        "money market", "repurchase*", "bills", "gold", "grain", "wheat", "corn", "sugar", "coffee", "cocoa",
        "soybean*", "tonnes"),
    "z_sport": ("game*", "match*", "season", "cup", "olympic*", "championship*", "team*", "coach*", "tournament*",
        "player*", "league", "score*", "goal*", "victory", "defeat*", "win over", "nfl", "nba", "mlb", "nhl",
        "nascar", "golf", "tennis", "soccer", "football", "baseball", "cricket", "race", "racing", "medal*", "athens",
        "series", "inning*", "quarterback", "touchdown*", "open"),
    "z_politics": ("election*", "vote", "voters", "minister", "prime minister", "bush", "kerry", "trump", "biden",
        "obama", "war", "troops", "military", "army", "iraq", "iraqi", "iran", "iranian", "rebels", "militants",
        "killed", "police", "campaign", "presidential", "democrat*", "republican*", "white house", "kremlin",
        "nuclear", "un", "united nations", "palestinian*", "israel*"),
}



_WORD = re.compile(r"[a-z0-9&'\-]+")
_MAX_CACHE = 200_000  # distinct words (and word pairs) kept per matcher; cleared when it grows past this

Element = tuple[str, bool]  # one pattern word: (text, is_prefix)
_CACHES = (  # CueMatcher attributes rebuilt on use
    "_words", "_word_list", "_pairs", "_triples", "generation", "_first",
)


def _element(word: str) -> Element:
    return (word[:-1], True) if word.endswith("*") else (word, False)


def _matches(element: Element, word: str) -> bool:
    text, is_prefix = element
    return word.startswith(text) if is_prefix else word == text


def _bit_rows(masks: list[int], lanes: int) -> np.ndarray:
    """Python integers as rows of ``lanes`` + 1 uint64 columns: bit g of a mask is bit g % 64 of column g // 64.

    Groups are bits 0 .. 64 x lanes - 1 (64 groups to a lane), the row's flag bit 64 x lanes; one conversion
    of all rows costs less than setting bits of a numpy row one group at a time.
    """
    width = 8 * (lanes + 1)
    flat = np.frombuffer(b"".join(mask.to_bytes(width, "little") for mask in masks), dtype="<u8")
    return flat.reshape(len(masks), lanes + 1).astype(np.uint64)


Follower = tuple[str, bool, int, int]  # a pattern's second word (text, is_prefix); its group bit or 0; itself or -1
_Trie = dict[str, "_Trie"]  # a character -> the texts that continue with it ("" -> {}: a text ends here)


def _trie_pattern(texts: Iterable[str]) -> str:
    """A regex matching the longest of ``texts`` that starts a string, shaped as a trie so ``re`` walks it in C.

    A text that ends at a node with longer texts below makes the branches below optional: greedy, they are
    tried first, so the longest text wins.
    """
    trie: _Trie = {}
    for text in texts:
        node = trie
        for char in text:
            node = node.setdefault(char, {})
        node[""] = {}  # the end of a text ("" is never a character key)

    def render(node: _Trie) -> str:
        branches = [re.escape(char) + render(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return render(trie)


class _FirstWords:
    """What a word means as the first word of the patterns: one dictionary look-up and one regex match per word.

    The prefix patterns a word matches are all prefixes of the longest one it matches, so their one-word
    groups and longer patterns are joined once per prefix, and a word needs only its longest matching prefix:
    a look-up per prefix length for each new word was most of the cost of words seen for the first time.
    """

    def __init__(self, patterns: Sequence[tuple[tuple[Element, ...], int]], exact: Mapping[str, Sequence[int]],
                 prefix: Mapping[str, Sequence[int]], flag: int) -> None:
        """``exact``/``prefix``: first word -> patterns; ``flag``: the mask bit for "may start a longer cue"."""
        self.exact = {text: self._mask(patterns, found, flag) for text, found in exact.items()}
        self.exact_longer = {text: self._longer(patterns, found) for text, found in exact.items()}
        self.prefix: dict[str, int] = {}
        self.prefix_longer: dict[str, tuple[Follower, ...]] = {}
        for text in prefix:
            shorter = [p for size in range(len(text) + 1) for p in prefix.get(text[:size], ())]  # by length
            self.prefix[text] = self._mask(patterns, shorter, flag)
            self.prefix_longer[text] = self._longer(patterns, shorter)
        self.longest = re.compile(_trie_pattern(prefix)).match if prefix else None

    @staticmethod
    def _mask(patterns: Sequence[tuple[tuple[Element, ...], int]], found: Iterable[int], flag: int) -> int:
        mask = 0
        for p in found:
            words, group = patterns[p]
            mask |= 1 << group if len(words) == 1 else 1 << flag
        return mask

    @staticmethod
    def _longer(patterns: Sequence[tuple[tuple[Element, ...], int]], found: Iterable[int]) -> tuple[Follower, ...]:
        """The second words of the patterns of two or three words among ``found``."""
        return tuple((*patterns[p][0][1], 1 << patterns[p][1] if len(patterns[p][0]) == 2 else 0,
                      p if len(patterns[p][0]) == 3 else -1) for p in found if len(patterns[p][0]) > 1)

    def masks(self, words: Iterable[str]) -> list[int]:
        """Per word, its one-word groups as bits and the flag bit if it may start a longer pattern."""
        exact, prefix, longest = self.exact.get, self.prefix, self.longest
        if longest is None:
            return [exact(word, 0) for word in words]
        return [exact(word, 0) | (prefix[found.group()] if (found := longest(word)) else 0) for word in words]

    def longer(self, word: str) -> tuple[Follower, ...]:
        """The second words of the patterns of two or three words whose first word matches ``word``."""
        found = self.longest(word) if self.longest is not None else None
        return self.exact_longer.get(word, ()) + (self.prefix_longer[found.group()] if found else ())


def _pair(followers: Iterable[Follower], second: str) -> tuple[int, tuple[int, ...]]:
    """Groups of the two-word cues whose second word ``second`` matches, as bits; and three-word cues it may start."""
    groups = 0
    triples: list[int] = []
    for text, is_prefix, bit, triple in followers:
        if second.startswith(text) if is_prefix else second == text:
            if triple < 0:
                groups |= bit
            else:
                triples.append(triple)
    return groups, tuple(triples)


class _Rows:
    """A growable array of rows, one per key, found by a key -> row number dictionary."""

    def __init__(self, width: int, dtype: type) -> None:
        self.number: dict[object, int] = {}
        self.rows: np.ndarray = np.zeros((256, width), dtype=dtype)

    def add(self, keys: Sequence[object], rows: np.ndarray) -> None:
        first = len(self.number)
        end = first + len(keys)
        if end > len(self.rows):
            grown = np.zeros((max(end, 2 * len(self.rows)), self.rows.shape[1]), dtype=self.rows.dtype)
            grown[:first] = self.rows[:first]
            self.rows = grown
        self.rows[first:end] = rows
        self.number.update(zip(keys, range(first, end), strict=True))

    def numbers(self, keys: Sequence[object]) -> np.ndarray:
        """Row numbers of ``keys``, -1 for unknown ones."""
        return np.fromiter(map(self.number.get, keys, repeat(-1)), dtype=np.int64, count=len(keys))


class CueMatcher:
    """Finds which cue groups occur in a list of words, and which of them within its first words.

    What a word means (the one-word cues it matches, whether it may start a longer cue) and
    what a pair of adjacent words means are worked out once and kept as rows of bits, so a
    batch of texts costs a few array operations per word once its words were seen: walking
    the words one at a time in Python was a quarter of the cost of tagging.
    """

    def __init__(self, cues: Mapping[str, Sequence[str]]) -> None:
        self.names = tuple(cues)
        self._patterns: list[tuple[tuple[Element, ...], int]] = []
        for index, group in enumerate(self.names):
            for pattern in cues[group]:
                words = tuple(_element(w) for w in pattern.split())
                if 0 < len(words) <= 3:
                    self._patterns.append((words, index))
                elif words:
                    raise ValueError(f"cue {pattern!r}: at most three words")
        # Indexes by a pattern's first word, exact or prefix, for the first sight of a word or pair.
        self._exact: dict[str, list[int]] = {}
        self._prefix: dict[str, list[int]] = {}
        for p, (words, _) in enumerate(self._patterns):
            text, is_prefix = words[0]
            (self._prefix if is_prefix else self._exact).setdefault(text, []).append(p)
        self._first = self._first_words()
        self._reset()

    def __getstate__(self) -> dict[str, object]:
        state = {k: v for k, v in self.__dict__.items() if k not in _CACHES}
        state["_words"], state["_pairs"] = {}, {}  # rebuilt on use; keeps model files small (and as they were)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._first = self._first_words()
        self._reset()

    def _first_words(self) -> _FirstWords:
        return _FirstWords(self._patterns, self._exact, self._prefix, 64 * self._lanes())

    def _lanes(self) -> int:
        return (len(self.names) + 63) // 64 or 1

    def _reset(self) -> None:
        """Empty caches: words (bits of their one-word cues; may they start a longer cue) and word pairs."""
        lanes = self._lanes()
        self.generation = next(STAMPS)  # word rows numbered anew
        self._words = _Rows(lanes + 1, np.uint64)  # the last column: 1 if the word may start a longer cue
        self._word_list: list[str] = []  # by row number
        self._pairs = _Rows(lanes + 1, np.uint64)  # the last column: 1 if a three-word cue may follow
        self._triples: dict[int, tuple[int, ...]] = {}  # pair row number -> three-word cues it may start

    def _add_words(self, words: list[str]) -> None:
        self._words.add(words, _bit_rows(self._first.masks(words), self._lanes()))
        self._word_list.extend(words)

    def _add_pairs(self, keys: list[int]) -> None:
        lanes = self._lanes()
        first = len(self._pairs.number)
        masks: list[int] = []
        followers: dict[int, tuple[Follower, ...]] = {}  # per first word: its patterns' second words
        for k, key in enumerate(keys):
            head = key >> 32
            if head not in followers:
                followers[head] = self._first.longer(self._word_list[head])
            groups, triples = _pair(followers[head], self._word_list[key & 0xFFFFFFFF])
            if triples:
                groups |= 1 << (64 * lanes)
                self._triples[first + k] = triples
            masks.append(groups)
        self._pairs.add(keys, _bit_rows(masks, lanes))

    def _ids(self, words: list[str], may_forget: bool = True) -> np.ndarray:
        """Row numbers of ``words`` in the word cache, adding new words (and emptying it when it is full)."""
        ids = self._words.numbers(words)
        if len(ids) and ids.min() < 0:
            missing = np.flatnonzero(ids < 0)  # only these are looked up again, not all the words
            unknown = [words[k] for k in missing.tolist()]
            new = list(dict.fromkeys(unknown))
            if may_forget and len(self._words.number) + len(new) > _MAX_CACHE:
                self._reset()
                missing, unknown = np.arange(len(words)), words
                new = list(dict.fromkeys(words))
            self._add_words(new)
            ids[missing] = self._words.numbers(unknown)
        return ids

    def token_words(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per lowercase whitespace token, the word cache rows of its words; and how many words each has.

        Words are runs of characters no whitespace belongs to, so a text's words are its tokens' words.
        """
        rows = list(map(_WORD.findall, tokens))
        return self._ids(list(chain.from_iterable(rows)), may_forget=False), np.fromiter(
            map(len, rows), dtype=np.int64, count=len(rows)
        )

    def find_many(self, docs: Sequence[list[str]], leads: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Groups found in each list of words, and those within its first ``leads[d]`` words: rows of bits."""
        sizes = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        return self.find_ids(self._ids(list(chain.from_iterable(docs))), sizes, np.asarray(leads, dtype=np.int64))

    def find_ids(self, ids: np.ndarray, sizes: np.ndarray, leads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``find_many`` of words given as word cache rows, ``sizes[d]`` words for text d."""
        count = len(sizes)
        lanes = self._words.rows.shape[1] - 1
        total = len(ids)
        table = self._words.rows[ids]
        bits = table[:, :lanes]  # a copy: pair and triple cues are added at the word that ends them
        ends = np.cumsum(sizes)
        position = np.arange(total) - np.repeat(ends - sizes, sizes)  # index of each word in its text
        last = position == np.repeat(sizes - 1, sizes)
        starts = np.flatnonzero((table[:, lanes] != 0) & ~last)  # a word that may start a cue, and one follows
        if len(starts):
            keys = ((ids[starts] << 32) | ids[starts + 1]).tolist()
            pairs = self._pairs.numbers(keys)
            if (pairs < 0).any():
                fresh = [k for k in dict.fromkeys(keys) if k not in self._pairs.number]
                if len(self._pairs.number) + len(fresh) > _MAX_CACHE:
                    self._pairs, self._triples = _Rows(lanes + 1, np.uint64), {}
                    fresh = list(dict.fromkeys(keys))
                self._add_pairs(fresh)
                pairs = self._pairs.numbers(keys)
            found = self._pairs.rows[pairs]
            bits[starts + 1] |= found[:, :lanes]
            for k in np.flatnonzero(found[:, lanes] != 0).tolist():  # three-word cues: rare
                third = int(starts[k]) + 2
                if last[third - 1]:
                    continue
                for p in self._triples[int(pairs[k])]:
                    pattern, group = self._patterns[p]
                    if _matches(pattern[2], self._word_list[ids[third]]):
                        bits[third, group >> 6] |= np.uint64(1 << (group & 63))
        everywhere = np.zeros((count, lanes), dtype=np.uint64)
        in_lead = np.zeros((count, lanes), dtype=np.uint64)
        nonempty = np.flatnonzero(sizes)
        if len(nonempty):
            first = (ends - sizes)[nonempty]
            everywhere[nonempty] = np.bitwise_or.reduceat(bits, first, axis=0)
            bits[position >= np.repeat(leads, sizes)] = 0
            in_lead[nonempty] = np.bitwise_or.reduceat(bits, first, axis=0)
        return everywhere, in_lead

    def find(self, words: Sequence[str], lead: int) -> tuple[set[int], set[int]]:
        """Groups found in ``words``, and those found within its first ``lead`` words."""
        everywhere, in_lead = self.find_many([list(words)], [lead])
        return set(self.groups(everywhere)[0]), set(self.groups(in_lead)[0])

    def groups(self, bits: np.ndarray) -> list[list[int]]:
        """Rows of bits -> the groups in each row, ascending."""
        flags = self.flags(bits)
        return [np.flatnonzero(row).tolist() for row in flags]

    def flags(self, bits: np.ndarray) -> np.ndarray:
        """Rows of bits -> a boolean column per group."""
        octets = np.ascontiguousarray(bits, dtype="<u8").view(np.uint8).reshape(len(bits), 8 * bits.shape[1])
        return np.unpackbits(octets, axis=1, bitorder="little")[:, : len(self.names)].astype(bool)


def split_words(text: str) -> tuple[list[str], int]:
    """Lowercase words of ``text`` and how many belong to its lead (up to the first ". ")."""
    lead, _, rest = text.partition(". ")
    words = _WORD.findall(lead.lower())
    count = len(words)
    if rest:
        words += _WORD.findall(rest.lower())
    return words, count


class CueFeatures:
    """Binary cue-group features, weighted: broad and detailed groups, each in the whole text and in the lead."""

    def __init__(
        self,
        weights: tuple[float, float, float, float] = (0.15, 0.15, 0.1, 0.1),
        broad: Mapping[str, Sequence[str]] = STAGE_CUES,
        detailed: Mapping[str, Sequence[str]] = DETAILED_CUES,
    ) -> None:
        """``weights``: broad groups in text, broad in lead, detailed in text, detailed in lead."""
        self.matcher = CueMatcher({**{f"broad:{k}": v for k, v in broad.items()},
                                   **{f"detailed:{k}": v for k, v in detailed.items()}})
        text_weights = [weights[0] if n.startswith("broad:") else weights[2] for n in self.matcher.names]
        lead_weights = [weights[1] if n.startswith("broad:") else weights[3] for n in self.matcher.names]
        self.weights = np.array(text_weights + lead_weights)

    _kind = "cues"  # rows kept per token in a TokenTable

    def feature_names(self) -> list[str]:
        return [f"{n}:text" for n in self.matcher.names] + [f"{n}:lead" for n in self.matcher.names]

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """One row per text: the weight of each group found (text columns, then lead columns), else 0."""
        split = [split_words(text) for text in texts]
        everywhere, in_lead = self.matcher.find_many([words for words, _ in split], [lead for _, lead in split])
        return self._matrix(everywhere, in_lead)

    def transform_tokens(self, batch: TokenBatch) -> sparse.csr_matrix:
        """``transform`` of a batch already split into numbered tokens: the same matrix."""
        if len(self.matcher._words.number) > _MAX_CACHE:
            self.matcher._reset()
        # Rows made before the matcher last renumbered its words (a new generation) are remade.
        field = batch.table.rows(self._kind, self.matcher.token_words, self.matcher.generation)
        ids, counts = field.gather(batch.numbers)
        # The lead is the text up to the first ". ": its tokens are the text's first ones (the last one
        # without its final "." when the lead ends inside a token: the same words).
        lead_tokens = np.fromiter((len(text.partition(". ")[0].split()) for text in batch.lowered), dtype=np.int64,
                                  count=len(batch.lowered))
        total = np.concatenate(([0], np.cumsum(counts)))
        starts = np.cumsum(batch.sizes) - batch.sizes
        leads = total[starts + lead_tokens] - total[starts]
        everywhere, in_lead = self.matcher.find_ids(ids, batch.counts_per_text(counts), leads)
        return self._matrix(everywhere, in_lead)

    def _matrix(self, everywhere: np.ndarray, in_lead: np.ndarray) -> sparse.csr_matrix:
        flags = np.hstack([self.matcher.flags(everywhere), self.matcher.flags(in_lead)])
        rows, columns = np.nonzero(flags)  # row by row, columns ascending: text columns, then lead columns
        indptr = np.zeros(len(flags) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(flags)), out=indptr[1:])
        return sparse.csr_matrix((self.weights[columns], columns, indptr), shape=flags.shape)
