"""English statement shapes, read on clauses with contractions expanded.

Facts (type ``fact``): name, home and origin, work and study, family, pets, allergies
and health conditions, money, birthday and age, languages, credentials and contact
details. Diet ("I don't eat pork", "I'm vegan") is a ``constraint`` on what to suggest.
Instructions ("never …", "always …", "from now on …", "whenever …", "I hate it when you
…") are ``constraint`` rules with ``instruction=True``. Likes and dislikes are read by
:mod:`domain.polarity`, not here.
"""

from __future__ import annotations

import re

from memvault.adapters.extractor.rules import Rule, compile_en
from memvault.domain.memory import MemoryType

FACT, CONSTRAINT = MemoryType.FACT, MemoryType.CONSTRAINT

_ADV = r"(?:(?:currently|now|still|actually|also|just|really|recently|usually|mostly)\s+){0,3}"
_JOBS = (
    r"engineer|developer|dev|programmer|coder|teacher|doctor|nurse|lawyer|attorney|"
    r"designer|student|manager|accountant|scientist|researcher|writer|author|artist|chef|"
    r"cook|baker|consultant|analyst|architect|dentist|pharmacist|freelancer|photographer|"
    r"journalist|musician|professor|lecturer|pilot|driver|farmer|entrepreneur|founder|"
    r"intern|marketer|editor|translator|therapist|vet|veterinarian|electrician|plumber|"
    r"mechanic|carpenter|officer|firefighter|paramedic|surgeon|physician|psychologist|"
    r"economist|banker|trader|recruiter|librarian|waiter|waitress|bartender|barista|"
    r"cashier|clerk|secretary|administrator|sysadmin|technician|tutor|coach|trainer|"
    r"athlete|actor|actress|dancer|singer|undergrad|salesperson|realtor|soldier|pm"
)
_RELATIVES = (
    r"wife|husband|partner|spouse|son|daughter|kids?|children|boyfriend|girlfriend|"
    r"fianc[eé]e?|mom|mum|mother|dad|father|brother|sister|baby|grandma|grandpa|"
    r"grandmother|grandfather|twins"
)
_FAMILY_MEMBERS = (
    r"kids?|children|child|sons?|daughters?|boys|girls|brothers?|sisters?|siblings|twins|"
    r"grandkids|grandchildren|grandsons?|granddaughters?|stepsons?|stepdaughters?|husband|"
    r"wife|partner|boyfriend|girlfriend|fianc[eé]e?|baby|babies|toddlers?"
)
_ANIMALS = (
    r"dogs?|cats?|pupp(?:y|ies)|kittens?|parrots?|rabbits?|bunn(?:y|ies)|hamsters?|fish|"
    r"goldfish|turtles?|tortoises?|snakes?|lizards?|horses?|pets?|retrievers?|labradors?|"
    r"labs?|poodles?|terriers?|corgis?|husky|huskies|beagles?|bulldogs?|shepherds?|"
    r"dachshunds?|chihuahuas?"
)
_CONDITIONS = (
    r"(?:type\s+[12]\s+)?diabetes|asthma|adhd|autism|depression|anxiety|ptsd|ocd|epilepsy|"
    r"migraines?|celiac(?:\s+disease)?|coeliac(?:\s+disease)?|high\s+blood\s+pressure|"
    r"hypertension|ibs|arthritis|cancer|insomnia|dyslexia|hearing\s+loss|lupus|"
    r"crohn's(?:\s+disease)?|bipolar(?:\s+disorder)?|a\s+heart\s+condition|"
    r"a\s+bad\s+(?:back|knee|hip|shoulder)|bad\s+(?:knees|hips)|"
    r"an?\s+(?:\w+\s+)?(?:condition|disorder|disease|injury)"
)
_AMOUNT = (
    r"(?:about\s+|around\s+|roughly\s+|like\s+|over\s+|under\s+|almost\s+)?"
    r"[$€£¥]?\s?\d[\d,.]*\s*(?:k|m|grand|dollars|euros|pounds|usd|eur|gbp|rmb|yuan)?"
)
# Said as "I'm Canadian"; without this list the capitalised word would read as a name.
_NATIONALITIES = (
    r"american|canadian|mexican|brazilian|argentinian|chilean|colombian|peruvian|british|"
    r"english|scottish|welsh|irish|french|german|dutch|belgian|swiss|austrian|italian|"
    r"spanish|portuguese|greek|swedish|norwegian|danish|finnish|polish|czech|hungarian|"
    r"romanian|ukrainian|russian|turkish|israeli|iranian|egyptian|moroccan|nigerian|"
    r"kenyan|ethiopian|ghanaian|south\s+african|indian|pakistani|bangladeshi|chinese|"
    r"taiwanese|japanese|korean|vietnamese|thai|filipino|filipina|indonesian|malaysian|"
    r"singaporean|australian|kiwi|new\s+zealander"
)
_MONTH = (
    r"jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|"
    r"june|july|august|september|october|november|december"
)

_NOT_A_NAME = compile_en(
    r"(?:later|back|tomorrow|now|when|if|maybe|anytime|after|before|at|on|in|sometime|"
    r"asap|tonight|up|again|soon|please|whenever|once|a|an|the|out|over|crazy|old|not|"
    r"none|nothing|secret|private|unimportant|irrelevant)\b"
)
# Capitalised words after "I'm" that are states, not names ("I'm Fine", "I'm Back").
_NOT_A_SELF_NAME = re.compile(
    r"(?:Fine|Good|Great|Okay|Ok|Back|Done|Here|Home|Ready|Sorry|Sure|Tired|Hungry|Busy|"
    r"Bored|Lost|Confused|New|Not|So|Just|Also|Still|Happy|Sad|Glad|Alright|Excited|Sick|"
    r"Late|Free|In|Out|On|Off|Up|Down|Afraid|Curious|Serious|Kidding|Joking|Listening|"
    r"Thinking|Working|Going|Leaving|Coming|Very|Really|Too|Feeling|Cold|Hot|Stuck|Bad|"
    r"Well|Sorry|Exhausted|Stressed|Worried|Ok|Cool|Impressed|Curious)\b"
)
_NOT_AN_INSTRUCTION = compile_en(
    r"(?:worry|mind|bother|panic|forget|apologi[sz]e|hesitate|laugh|rush|stress|judge|"
    r"get\s+me\s+wrong|know|think|care|feel|cry|ask|go|leave|stop|even|be\s+(?:silly|sorry|"
    r"shy|afraid|ridiculous|like\s+that|sad|mad)|do\s+(?:that|this|it)|say\s+(?:that|it)|"
    r"mind|thank|thanks|yell|shout|ever|again|you|happy|glad|here|ready|welcome|available|"
    r"good|fun|nice|a\s+pleasure)\b"
)
_NOT_A_DIET = compile_en(
    r"(?:much|anything|a\s+lot|lunch|dinner|breakfast|out|anymore|any\s+more|more|now|"
    r"right\s+now|today|tonight|too\s+much|that|this|it|another)\b"
)
_NOT_A_PLACE = compile_en(
    r"(?:the\s+future|the\s+past|here|there|work|home|school|the\s+office|a\s+hole|"
    r"fear|hand\s+to\s+mouth)\b"
)
# "I study hard", "I speak too fast": manner, not a subject or a language.
_NOT_A_TOPIC = compile_en(
    r"(?:hard|a\s+lot|every|all|late|too|so|very|really|fast|slow|slowly|quickly|loud|"
    r"loudly|quietly|softly|up|out|to|with|for|about|of|on|in|at|from|my\s+mind|"
    r"when|whenever|because)\b"
)

USER_RULES: tuple[Rule, ...] = (
    Rule(
        pattern=compile_en(
            r"^(?:my\s+name\s+is|my\s+name's|the\s+name\s+is|i\s+am\s+called|i\s+go\s+by|"
            r"(?:you\s+can\s+|please\s+|just\s+)?call\s+me|people\s+call\s+me|"
            r"everyone\s+calls\s+me|my\s+friends\s+call\s+me)\s+"
            r"(?P<subject>[\w'.-]+(?:\s+[\w'.-]+){0,2})$"
        ),
        memory_type=FACT,
        label="Name",
        refuse=_NOT_A_NAME,
    ),
    Rule(
        pattern=compile_en(rf"^i\s+am\s+(?P<subject>(?:{_NATIONALITIES}))\b"),
        memory_type=FACT,
        label="From",
    ),
    Rule(
        pattern=re.compile(r"^[Ii]\s+am\s+(?P<subject>[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)$"),
        memory_type=FACT,
        label="Name",
        refuse=_NOT_A_SELF_NAME,
        confidence=0.7,
    ),
    Rule(
        pattern=compile_en(
            r"^my\s+(?:\w+\s+){0,2}?(?P<subject>password|passcode|pin(?:\s+code)?|ssn|"
            r"social\s+security\s+number|passport\s+number|credit\s+card\s+number|"
            r"card\s+number|bank\s+account\s+number|account\s+number|id\s+number|"
            r"licen[cs]e\s+(?:plate|number)|plate\s+number|api\s+key)\s*(?:is|=|:)\s*\S"
        ),
        memory_type=FACT,
        label="Credential",
    ),
    Rule(
        pattern=compile_en(
            r"^my\s+(?P<subject>email(?:\s+address)?|phone(?:\s+number)?|cell(?:\s+number)?|"
            r"mobile(?:\s+number)?|(?:home\s+)?address)\s+is\s+\S"
        ),
        memory_type=FACT,
        label="Contact",
    ),
    Rule(
        pattern=compile_en(
            rf"^i\s+am\s+{_ADV}(?:severely\s+|very\s+|deathly\s+|mildly\s+|highly\s+|"
            r"extremely\s+|super\s+)?allergic\s+to\s+(?P<subject>.+)$"
        ),
        memory_type=FACT,
        label="Allergy",
    ),
    Rule(
        pattern=compile_en(
            r"^i\s+have\s+(?:(?:a|an)\s+)?(?:severe\s+|mild\s+|bad\s+)?"
            r"(?P<subject>[\w\s-]{1,30}?)\s+allerg(?:y|ies)\b"
        ),
        memory_type=FACT,
        label="Allergy",
    ),
    Rule(
        pattern=compile_en(
            r"^i\s+have\s+(?:(?:a|an)\s+)?(?:severe\s+|mild\s+|bad\s+)?"
            r"allerg(?:y|ies)\s+to\s+(?P<subject>.+)$"
        ),
        memory_type=FACT,
        label="Allergy",
    ),
    Rule(
        pattern=compile_en(
            rf"^i\s+{_ADV}(?:have|have\s+got|got|was\s+diagnosed\s+with|"
            r"have\s+been\s+diagnosed\s+with|suffer\s+from|live\s+with|"
            rf"am\s+being\s+treated\s+for)\s+(?P<subject>{_CONDITIONS})\b"
        ),
        memory_type=FACT,
        label="Health",
    ),
    Rule(
        pattern=compile_en(
            rf"^i\s+am\s+{_ADV}(?P<subject>diabetic|asthmatic|epileptic|pregnant|"
            r"lactose\s+intolerant|gluten\s+intolerant|colou?r\s*blind|deaf|hard\s+of\s+hearing|"
            r"blind|dyslexic|autistic|on\s+medication|on\s+antidepressants|in\s+recovery)\b"
        ),
        memory_type=FACT,
        label="Health",
    ),
    Rule(
        pattern=compile_en(
            r"^(?:i|we)\s+(?:have|have\s+got|got|own|adopted)\s+(?P<subject>(?:a|an|one|two|"
            rf"three|\d+)\s+(?:[\w-]+\s+){{0,2}}?(?:{_ANIMALS})\b.*)$"
        ),
        memory_type=FACT,
        label="Pet",
    ),
    Rule(
        pattern=compile_en(
            r"^my\s+(?P<subject>(?:dog|cat|puppy|kitten|parrot|rabbit|hamster|pet|horse)"
            r"(?:'s\s+name\s+is|\s+is\s+(?:named|called|a|an)|\s+\w+\s+is)\s.+)$"
        ),
        memory_type=FACT,
        label="Pet",
    ),
    Rule(
        pattern=compile_en(
            r"^(?:i|we)\s+(?:have|have\s+got|got)\s+(?P<subject>(?:a|an|one|two|three|four|"
            rf"five|six|\d+|twin)\s+(?:[\w-]+\s+){{0,2}}?(?:{_FAMILY_MEMBERS})\b.*)$"
        ),
        memory_type=FACT,
        label="Family",
    ),
    Rule(
        pattern=compile_en(
            rf"^my\s+(?P<subject>(?:{_RELATIVES})(?:\s+\w+)?(?:'s\s+name\s+is|"
            r"\s+is\s+(?:named|called)|'s\s+birthday|\s+(?:is|turns|turned|just\s+turned)\s+\d+|"
            r"\s+was\s+born|\s+is\s+allergic|\s+works|\s+is\s+(?:a|an)\s|\s+lives)\b.*)$"
        ),
        memory_type=FACT,
        label="Family",
    ),
    Rule(
        pattern=compile_en(
            r"^i\s+(?:am|just\s+got|got|recently\s+got)\s+(?P<subject>married|divorced|"
            r"widowed|engaged|single|a\s+(?:single\s+)?(?:mom|mum|dad|mother|father|parent))\b"
        ),
        memory_type=FACT,
        label="Family",
    ),
    Rule(
        pattern=compile_en(
            rf"^i\s+{_ADV}(?:live|am\s+living|reside|am\s+based|have\s+lived|"
            r"have\s+been\s+living|stay)\s+(?:in|at|near|on|(?:just\s+)?outside(?:\s+of)?)\s+"
            r"(?P<subject>.+)$"
        ),
        memory_type=FACT,
        label="Lives in",
    ),
    Rule(
        pattern=compile_en(rf"^i\s+{_ADV}(?:moved|relocated)\s+(?:here\s+)?to\s+(?P<subject>.+)$"),
        memory_type=FACT,
        label="Lives in",
    ),
    Rule(
        pattern=compile_en(
            r"^(?:i\s+am\s+(?:originally\s+)?from|i\s+(?:grew\s+up|was\s+raised|"
            r"was\s+born\s+and\s+raised)\s+in|my\s+home\s*town\s+is)\s+(?P<subject>.+)$"
        ),
        memory_type=FACT,
        label="From",
        refuse=_NOT_A_PLACE,
    ),
    Rule(
        pattern=compile_en(rf"^i\s+{_ADV}work\s+(?:at|for|in|as|on|with|from)\s+(?P<subject>.+)$"),
        memory_type=FACT,
        label="Work",
    ),
    Rule(
        pattern=compile_en(
            rf"^i\s+(?:am|have\s+been)\s+{_ADV}(?:a|an)\s+"
            rf"(?P<subject>(?:[\w-]+\s+){{0,3}}?(?:{_JOBS}))\b"
        ),
        memory_type=FACT,
        label="Work",
    ),
    Rule(
        pattern=compile_en(
            r"^i\s+am\s+(?:the\s+)?(?P<subject>(?:ceo|cto|cfo|coo|founder|co-founder|owner|"
            r"vp|president|retired|unemployed|self-employed|between\s+jobs|"
            r"a\s+stay-at-home\s+(?:mom|mum|dad|parent))\b.*)$"
        ),
        memory_type=FACT,
        label="Work",
    ),
    Rule(
        pattern=compile_en(
            r"^(?:my\s+(?:job|occupation|profession)\s+is|i\s+(?:just\s+)?(?:got\s+a\s+job|"
            r"started\s+(?:a\s+new\s+job|working))\s+(?:at|as|in)|i\s+teach)\s+"
            r"(?P<subject>.+)$"
        ),
        memory_type=FACT,
        label="Work",
        refuse=_NOT_A_TOPIC,
    ),
    Rule(
        pattern=compile_en(
            r"^i\s+(?:study|am\s+studying|major\s+in|am\s+majoring\s+in|am\s+learning)\s+"
            r"(?P<subject>.+)$"
        ),
        memory_type=FACT,
        label="Study",
        refuse=_NOT_A_TOPIC,
    ),
    Rule(
        pattern=compile_en(
            r"^(?:my\s+(?:birthday|bday|b-day|date\s+of\s+birth|dob)\s+is\s+(?:on\s+)?|"
            rf"i\s+was\s+born\s+(?:on|in)\s+(?=\d|(?:{_MONTH})\b))(?P<subject>.+)$"
        ),
        memory_type=FACT,
        label="Birthday",
    ),
    Rule(
        pattern=compile_en(
            r"^i\s+(?:am|just\s+turned|am\s+turning|turned)\s+(?P<subject>\d{1,2})"
            r"(?:\s+(?:years?\s+old|yrs?\s+old|yo|y/o))?$"
        ),
        memory_type=FACT,
        label="Age",
    ),
    Rule(
        pattern=compile_en(
            rf"^(?:i\s+{_ADV}speak|my\s+(?:native|first|mother)\s+(?:language|tongue)\s+is|"
            r"i\s+am\s+a\s+native)\s+(?P<subject>.+)$"
        ),
        memory_type=FACT,
        label="Language",
        refuse=_NOT_A_TOPIC,
    ),
    Rule(
        pattern=compile_en(
            rf"^i\s+{_ADV}(?:do\s+not|cannot|can\s+not|never|will\s+not|must\s+not|"
            r"am\s+not\s+allowed\s+to|should\s+not|try\s+not\s+to|no\s+longer)\s+"
            r"(?:eat|drink|consume|touch)\s+(?P<subject>.+)$"
        ),
        memory_type=CONSTRAINT,
        label="Avoids",
        refuse=_NOT_A_DIET,
    ),
    Rule(
        pattern=compile_en(
            rf"^i\s+(?:am\s+{_ADV}(?:a\s+)?|only\s+eat\s+|eat\s+only\s+)(?P<subject>vegetarian|"
            r"vegan|pescatarian|pescetarian|teetotal|teetotaler|sober|halal|kosher|keto|"
            r"plant-based|on\s+a\s+(?:\w+\s+)?diet)\b"
        ),
        memory_type=CONSTRAINT,
        label="Diet",
    ),
    Rule(
        pattern=compile_en(
            rf"^(?:my\s+(?:annual\s+|monthly\s+|yearly\s+|base\s+)?(?:salary|income|pay|"
            rf"rent|mortgage|credit\s+score|net\s+worth)\s+is|i\s+{_ADV}(?:make|earn|"
            rf"get\s+paid|take\s+home))\s+(?P<subject>{_AMOUNT})(?!\w)"
        ),
        memory_type=FACT,
        label="Money",
    ),
    Rule(
        pattern=compile_en(
            rf"^i\s+{_ADV}(?:owe|have|am)\s+(?P<subject>{_AMOUNT}\s+(?:in|of)\s+"
            r"(?:\w+\s+){0,2}(?:debt|loans?))\b"
        ),
        memory_type=FACT,
        label="Money",
    ),
)

INSTRUCTION_RULES: tuple[Rule, ...] = (
    Rule(
        pattern=compile_en(
            r"^(?:please\s+)?(?:from\s+now\s+on|going\s+forward|moving\s+forward|"
            r"in\s+(?:the\s+)?future|henceforth|from\s+here\s+on(?:\s+out)?)[\s,]+"
            r"(?:please\s+)?(?P<subject>.+)$"
        ),
        memory_type=CONSTRAINT,
        label="Rule",
        confidence=0.85,
        instruction=True,
    ),
    Rule(
        pattern=compile_en(
            r"^(?!(?:i|we)\b)(?P<subject>.+?)[\s,]+(?:from\s+now\s+on|going\s+forward|"
            r"moving\s+forward|in\s+(?:the\s+)?future|from\s+here\s+on(?:\s+out)?)$"
        ),
        memory_type=CONSTRAINT,
        label="Rule",
        confidence=0.85,
        instruction=True,
    ),
    Rule(
        pattern=compile_en(
            r"^i\s+(?:do\s+not\s+want\s+you\s+to|would\s+rather\s+you\s+(?:did\s+not|not)|"
            r"(?:want|need|would\s+like)\s+you\s+to\s+(?=always|never|stop)|"
            r"prefer\s+(?:that\s+)?you\s+(?=always|never|do\s+not)|"
            r"(?:really\s+)?(?:hate|do\s+not\s+like|dislike|cannot\s+stand)\s+(?:it\s+)?"
            r"when\s+you)\s+(?P<subject>.+)$"
        ),
        memory_type=CONSTRAINT,
        label="Rule",
        instruction=True,
    ),
    Rule(
        pattern=compile_en(
            r"^(?:please\s+)?(?:always|never|never\s+ever|do\s+not\s+ever|do\s+not|stop|"
            r"quit|avoid|whenever|every\s+time|each\s+time|any\s+time|anytime)\s+"
            r"(?:please\s+)?(?P<subject>.+)$"
        ),
        memory_type=CONSTRAINT,
        label="Rule",
        refuse=_NOT_AN_INSTRUCTION,
        instruction=True,
    ),
    Rule(
        pattern=compile_en(r"^remind\s+me\s+(?P<subject>(?:every|each)\s+.+)$"),
        memory_type=CONSTRAINT,
        label="Reminder",
        instruction=True,
    ),
)
