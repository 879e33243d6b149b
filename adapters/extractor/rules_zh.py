"""Chinese statement shapes (the same kinds as :mod:`adapters.extractor.rules_en`).

Facts: 姓名 (我叫/我的名字是/叫我), 住址与籍贯 (我住在/我是…人/我来自), 工作 (我在…工作/我是一名
…老师), 家庭 (我有一个女儿/我老婆叫…), 宠物, 过敏 (我对…过敏), 健康, 收入, 生日与年龄, 语言,
个人信息 (密码、证件号、手机号: the title names the kind, never the value).
Diet (我不吃…/我吃素) is a ``constraint``. Instructions (以后…/不要…/别…/永远不要…/每次都…)
are ``constraint`` rules with ``instruction=True``. Likes and dislikes are read by
:mod:`domain.polarity`.
"""

from __future__ import annotations

import re

from memvault.adapters.extractor.rules import Rule
from memvault.domain.memory import MemoryType

FACT, CONSTRAINT = MemoryType.FACT, MemoryType.CONSTRAINT

_ADV = (
    r"(?:现在|目前|已经|一直|也|都|还|平时|从小|从来|本来|其实|真的|确实|有点|比较|特别|"
    r"非常|很){0,4}"
)
_NUMBER = r"[0-9一二三四五六七八九十零〇两]"
_RELATIVES = (
    r"老婆|老公|妻子|丈夫|太太|先生|爱人|男朋友|女朋友|男友|女友|对象|女儿|儿子|孩子|闺女|"
    r"爸爸|妈妈|爸|妈|父亲|母亲|哥哥|姐姐|弟弟|妹妹"
)
_JOBS = (
    r"工程师|程序员|码农|老师|教师|医生|医师|护士|律师|设计师|学生|大学生|研究生|博士生|"
    r"高中生|初中生|小学生|经理|会计|研究员|作家|厨师|司机|销售|教授|公务员|记者|翻译|警察|"
    r"演员|歌手|自由职业者|创业者|分析师|架构师|主播|运营|药剂师|兽医|建筑师|画家|摄影师|编辑|"
    r"客服|老板|店主|军人|农民|工人|模特|导演|主持人|博主|全职妈妈|全职爸爸|家庭主妇|实习生"
)
_CONDITIONS = (
    r"糖尿病|高血压|哮喘|抑郁症|焦虑症|心脏病|胃病|鼻炎|偏头痛|失眠|癫痫|痛风|乳糖不耐受?|"
    r"[^，,]{0,6}?(?:病|症|炎)"
)

_NOT_A_NAME = re.compile(r"(?:了|过|起床|醒|一下|外卖|车|你|他|她|什么|啥|谁)")
_NOT_A_HOME = re.compile(r"(?:院|酒店|宾馆|了|过|一晚|几天)")
_NOT_AN_ORIGIN = re.compile(
    r"(?:个|一个|好|坏|普通|老实|成年|男|女|有钱|穷|中年|老年|年轻|外星|机器|病|大|小|懒|笨|"
    r"聪明|内向|外向|文化|明白|局外|过来|自己|自由|爱|读书|工作|打工|老|新|外行|内行)"
)
_NOT_A_DIET = re.compile(r"(?:了|饭|东西|早饭|午饭|晚饭|早餐|午餐|晚餐|这|那|下|完)")
_NOT_AN_INSTRUCTION = re.compile(
    r"(?:担心|客气|着急|急|紧|怕|生气|难过|伤心|闹|哭|笑|这样|那样|管我|想太多|乱想|介意|"
    r"放弃|忘了|忘记|走|动|谢|了|说了|打扰|麻烦)"
)
_LATER = re.compile(r"(?:再说|再聊|再看|再讲|再议|再决定|吧$|有空)")

USER_RULES: tuple[Rule, ...] = (
    Rule(
        pattern=re.compile(
            r"^(?:我(?:的名字|的全名|名字)?(?:叫做|叫)|我的?名字是|(?:你|大家|朋友们)?(?:可以|都)?"
            r"(?:叫|称呼)我|(?:以后|请)(?:就)?(?:叫|称呼)我|我姓)"
            r"(?P<subject>[^\s，,。！!？?]{1,12}?)(?:就行了?|就好了?|吧|哦|啊|呀)?$"
        ),
        memory_type=FACT,
        label="姓名",
        refuse=_NOT_A_NAME,
    ),
    Rule(
        pattern=re.compile(
            r"^我的?(?:[^，,]{0,8}?)(?P<subject>密码|身份证号码?|身份证|护照号码?|银行卡号|卡号|"
            r"社保号|账号|车牌号|车牌|手机号码?|电话号码?|邮箱|微信号|地址|住址)(?:是|为|：|:)\s*\S"
        ),
        memory_type=FACT,
        label="个人信息",
    ),
    Rule(
        pattern=re.compile(rf"^我{_ADV}(?:对|有)(?P<subject>[^，,]{{1,15}}?)过敏"),
        memory_type=FACT,
        label="过敏",
    ),
    Rule(
        pattern=re.compile(
            rf"^我{_ADV}(?:有|得了|得过|患有|患了|确诊了?|查出了?)(?P<subject>{_CONDITIONS})"
        ),
        memory_type=FACT,
        label="健康",
    ),
    Rule(
        pattern=re.compile(rf"^我{_ADV}(?P<subject>乳糖不耐受?|色盲|怀孕了|在吃药|失眠)"),
        memory_type=FACT,
        label="健康",
    ),
    Rule(
        pattern=re.compile(
            rf"^我{_ADV}有(?P<subject>{_NUMBER}?(?:个|位)?(?:女儿|儿子|孩子|小孩|宝宝|哥哥|"
            r"姐姐|弟弟|妹妹|双胞胎|男朋友|女朋友|老婆|老公|对象|孙子|孙女|外孙|外孙女).*)$"
        ),
        memory_type=FACT,
        label="家庭",
    ),
    Rule(
        pattern=re.compile(
            rf"^我的?(?P<subject>(?:{_RELATIVES})(?:的名字|的生日)?(?:叫|是|今年|在|对|生日|"
            rf"出生|{_NUMBER}+岁|住在).+)$"
        ),
        memory_type=FACT,
        label="家庭",
    ),
    Rule(
        pattern=re.compile(
            rf"^我{_ADV}(?P<subject>结婚了|已婚|离婚了|离异|单身|订婚了|怀孕了|当爸爸了|当妈妈了)"
        ),
        memory_type=FACT,
        label="家庭",
    ),
    Rule(
        pattern=re.compile(
            rf"^我家?{_ADV}(?:养了|养着|养|有)(?P<subject>(?:{_NUMBER}|几)?(?:只|条|个|匹)?"
            r"[^，,]{0,6}?(?:猫|狗|鹦鹉|兔子|仓鼠|鱼|乌龟|宠物|柯基|泰迪|金毛|哈士奇|布偶|英短|柴犬)"
            r".*)$"
        ),
        memory_type=FACT,
        label="宠物",
    ),
    Rule(
        pattern=re.compile(r"^我家?的?(?:猫|狗|狗狗|猫咪|宠物|小狗|小猫)(?P<subject>叫.+)$"),
        memory_type=FACT,
        label="宠物",
    ),
    Rule(
        pattern=re.compile(
            rf"^我{_ADV}(?:住在|住|定居在|定居|生活在|家在|老家在|老家是)(?P<subject>[^，,]+)"
        ),
        memory_type=FACT,
        label="住址",
        refuse=_NOT_A_HOME,
    ),
    Rule(
        pattern=re.compile(r"^我是(?P<subject>[\u4e00-\u9fff]{2,5}?)人$"),
        memory_type=FACT,
        label="籍贯",
        refuse=_NOT_AN_ORIGIN,
    ),
    Rule(
        pattern=re.compile(rf"^我{_ADV}来自(?P<subject>[^，,]+)"),
        memory_type=FACT,
        label="籍贯",
    ),
    Rule(
        pattern=re.compile(
            rf"^我{_ADV}在(?P<subject>[^，,]{{1,20}}?)(?:工作|上班|实习|任职|打工|读书|上学|读大学|"
            r"读研|读博|念书|上大学|读高中|读初中)"
        ),
        memory_type=FACT,
        label="工作",
    ),
    Rule(
        pattern=re.compile(
            rf"^我{_ADV}是(?:一名|一个|一位|个|名|位)?(?P<subject>[^，,的]{{0,10}}?(?:{_JOBS}))"
        ),
        memory_type=FACT,
        label="工作",
    ),
    Rule(
        pattern=re.compile(
            rf"^我{_ADV}(?:从事|的工作是|的职业是|是做|是搞)(?P<subject>[^，,]{{1,15}}?)"
            r"(?:工作|行业|的)?$"
        ),
        memory_type=FACT,
        label="工作",
    ),
    Rule(
        pattern=re.compile(
            rf"^我{_ADV}(?:正在|在)(?:学习|学)(?![校院生])(?P<subject>[^，,]{{1,15}})"
        ),
        memory_type=FACT,
        label="学习",
    ),
    Rule(
        pattern=re.compile(r"^我的?生日(?:是|在)(?P<subject>.+)$"),
        memory_type=FACT,
        label="生日",
    ),
    Rule(
        pattern=re.compile(
            rf"^我(?:是)?(?P<subject>{_NUMBER}{{2,4}}年(?:{_NUMBER}{{1,2}}月)?"
            rf"(?:{_NUMBER}{{1,3}}[日号])?)(?:出生|生)的?$"
        ),
        memory_type=FACT,
        label="生日",
    ),
    Rule(
        pattern=re.compile(
            rf"^我(?=今年|{_NUMBER}{{1,3}}岁了?$)(?:今年)?(?P<subject>{_NUMBER}{{1,3}})岁"
        ),
        memory_type=FACT,
        label="年龄",
    ),
    Rule(
        pattern=re.compile(
            rf"^(?:我{_ADV}(?:会说|会讲)|我的母语是)(?P<subject>[^，,]{{1,10}}?(?:语|话|文))"
        ),
        memory_type=FACT,
        label="语言",
    ),
    Rule(
        pattern=re.compile(
            r"^我(?:的)?(?:月薪|年薪|工资|薪水|收入|月收入|年收入)(?:是|有|大概|差不多|才|大约|约|"
            r"在|只有|每月|一个月)*(?P<subject>[^，,]+)"
        ),
        memory_type=FACT,
        label="收入",
    ),
    Rule(
        pattern=re.compile(
            rf"^我{_ADV}(?:欠了?|背了?|有)(?P<subject>[^，,]{{1,10}}?(?:房贷|车贷|贷款|债务|外债|"
            r"网贷|信用卡债))"
        ),
        memory_type=FACT,
        label="收入",
    ),
    Rule(
        pattern=re.compile(
            rf"^我{_ADV}(?:(?:不|不能|从不|从来不|不敢|不可以|没法|戒了)(?:吃|喝|碰)|吃不了|喝不了)"
            r"(?P<subject>[^，,]+)"
        ),
        memory_type=CONSTRAINT,
        label="忌口",
        refuse=_NOT_A_DIET,
    ),
    Rule(
        pattern=re.compile(
            rf"^我{_ADV}(?:是)?(?P<subject>素食者|素食主义者|吃素的|吃素|纯素|穆斯林|吃清真|"
            r"不沾酒|戒酒了|在减肥)"
        ),
        memory_type=CONSTRAINT,
        label="饮食",
    ),
)

INSTRUCTION_RULES: tuple[Rule, ...] = (
    Rule(
        pattern=re.compile(
            r"^(?:请你?|你)?(?:以后|今后|从现在开始|从现在起|从今以后|从今天起|往后|将来)[，,\s]*"
            r"(?:请你?|你)?(?:都|也|一律|全部|就|总是|一直|每次都|务必|尽量)?(?P<subject>[^我].+)$"
        ),
        memory_type=CONSTRAINT,
        label="规则",
        confidence=0.85,
        refuse=_LATER,
        instruction=True,
    ),
    Rule(
        pattern=re.compile(
            r"^(?:请你?|你)?(?:以后|今后)?(?:都|也|千万|绝对|一定|务必)?(?:永远|千万|绝对)?"
            r"(?:不要再?|别再?|不准|不许|禁止|不可以|不能再|勿|不用再)(?P<subject>.+)$"
        ),
        memory_type=CONSTRAINT,
        label="规则",
        refuse=_NOT_AN_INSTRUCTION,
        instruction=True,
    ),
    Rule(
        pattern=re.compile(
            r"^(?:请你?|你)?(?:每次|每回|每一次|每天|总是|一直|始终|务必)(?:都)?(?P<subject>[^我].+)$"
        ),
        memory_type=CONSTRAINT,
        label="规则",
        instruction=True,
    ),
    Rule(
        pattern=re.compile(
            r"^我(?:希望|要|需要|想要|想让)你(?P<subject>(?:以后|今后|每次|永远|总是|一直|不要|别).+)$"
        ),
        memory_type=CONSTRAINT,
        label="规则",
        instruction=True,
    ),
    Rule(
        pattern=re.compile(rf"^我{_ADV}(?:不喜欢|讨厌|受不了|烦)你(?P<subject>.+)$"),
        memory_type=CONSTRAINT,
        label="规则",
        instruction=True,
    ),
)
