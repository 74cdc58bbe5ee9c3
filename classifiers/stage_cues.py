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
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import sparse

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


def _element(word: str) -> Element:
    return (word[:-1], True) if word.endswith("*") else (word, False)


def _matches(element: Element, word: str) -> bool:
    text, is_prefix = element
    return word.startswith(text) if is_prefix else word == text


class CueMatcher:
    """Finds which cue groups occur in a list of words, and which of them within its first words.

    Single words, adjacent pairs and triples are looked up in caches keyed by the words
    themselves, so a text costs a few dictionary lookups per word once its words were seen.
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
        self._prefix_sizes = sorted({len(text) for text in self._prefix})
        self._words: dict[str, tuple[frozenset[int], bool]] = {}
        self._pairs: dict[str, dict[str, tuple[frozenset[int], tuple[int, ...]]]] = {}

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_words"], state["_pairs"] = {}, {}  # rebuilt on use; keeps model files small
        return state

    def _starting(self, word: str) -> list[int]:
        """Patterns whose first word matches ``word``."""
        found = list(self._exact.get(word, ()))
        for size in self._prefix_sizes:
            if size > len(word):
                break
            found.extend(self._prefix.get(word[:size], ()))
        return found

    def _word(self, word: str) -> tuple[frozenset[int], bool]:
        """Groups of one-word cues matching ``word``, and whether it may start a longer cue."""
        starting = self._starting(word)
        groups = frozenset(self._patterns[p][1] for p in starting if len(self._patterns[p][0]) == 1)
        starts = any(len(self._patterns[p][0]) > 1 for p in starting)
        if len(self._words) >= _MAX_CACHE:
            self._words.clear()
            self._pairs.clear()
        hit = self._words[word] = (groups, starts)
        return hit

    def _pair(self, first: str, second: str) -> tuple[frozenset[int], tuple[int, ...]]:
        """Groups of two-word cues matching ``first second``, and the three-word cues it may start."""
        groups: set[int] = set()
        triples: list[int] = []
        for p in self._starting(first):
            words, group = self._patterns[p]
            if len(words) > 1 and _matches(words[1], second):
                if len(words) == 2:
                    groups.add(group)
                else:
                    triples.append(p)
        hit = self._pairs.setdefault(first, {})[second] = (frozenset(groups), tuple(triples))
        return hit

    def find(self, words: Sequence[str], lead: int) -> tuple[set[int], set[int]]:
        """Groups found in ``words``, and those found within its first ``lead`` words."""
        everywhere: set[int] = set()
        in_lead: set[int] = set()
        word_cache, pair_cache = self._words, self._pairs
        after: dict[str, tuple[frozenset[int], tuple[int, ...]]] | None = None  # pairs starting at the last word
        previous = ""
        for i, word in enumerate(words):
            entry = word_cache.get(word)
            if entry is None:
                entry = self._word(word)
            hit = entry[0]
            if after is not None:
                pair = after.get(word)
                if pair is None:
                    pair = self._pair(previous, word)
                if pair[0]:
                    hit = hit | pair[0]
                for p in pair[1]:  # a three-word cue: its last word is the next one
                    pattern, group = self._patterns[p]
                    if i + 1 < len(words) and _matches(pattern[2], words[i + 1]):
                        everywhere.add(group)
                        if i + 1 < lead:
                            in_lead.add(group)
            if hit:
                everywhere |= hit
                if i < lead:
                    in_lead |= hit
            after = pair_cache.get(word, {}) if entry[1] else None
            previous = word
        return everywhere, in_lead


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

    def feature_names(self) -> list[str]:
        return [f"{n}:text" for n in self.matcher.names] + [f"{n}:lead" for n in self.matcher.names]

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """One row per text: the weight of each group found (text columns, then lead columns), else 0."""
        offset = len(self.matcher.names)
        indptr = [0]
        indices: list[int] = []
        for text in texts:
            everywhere, in_lead = self.matcher.find(*split_words(text))
            indices.extend(everywhere)
            indices.extend(g + offset for g in in_lead)
            indptr.append(len(indices))
        columns = np.asarray(indices, dtype=np.int64)
        matrix = sparse.csr_matrix(
            (self.weights[columns], columns, np.asarray(indptr, dtype=np.int64)), shape=(len(texts), 2 * offset)
        )
        matrix.sort_indices()
        return matrix
