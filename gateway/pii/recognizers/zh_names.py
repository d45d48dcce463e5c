# ruff: noqa: RUF001, RUF003 - Chinese full-width punctuation (，：。) is part of the patterns and examples
"""Chinese person names: a surname dictionary plus context, since no Chinese NER model is offline.

A Chinese name is a surname (one character, or a compound such as 欧阳 or 司马) and one or
two given-name characters, written without spaces. The surname list below holds the common
single surnames (those covering nearly all of the population) and the compound surnames of
the 百家姓; it is a fact about Chinese, not a list of test names.

Many surnames are also everyday characters (和, 高, 安, 方, 文), so a surname alone proves
nothing. A candidate is reported when:

1. a context word stands before it (姓名, 联系人, 收件人, 客户, 我叫, 尊敬的, ...), or
2. a title or a possessive follows it (先生, 女士, 经理, 老师, 的电话, 的身份证, ...), or
3. with no context, it is a frequent surname followed by two characters that are both common
   in given names (王秀英, 张建国), which ordinary words rarely are (lower score).

Names in Latin script and names after English context words (`name: 王伟`) are found by
`names.py`, which accepts any script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.pii.findings import Finding
from gateway.pii.recognizers.base import words

COMPOUND_SURNAMES = frozenset(
    words(
        "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 令狐 夏侯 轩辕 端木 "
        "西门 南宫 独孤 百里 呼延 太史 申屠 公羊 澹台 濮阳 钟离 闻人 赫连 万俟 仲孙 单于 "
        "亓官 司空 司寇 鲜于 闾丘 子车 乐正 拓跋 第五 谷梁 左丘 东郭 梁丘 羊舌 微生 公冶 "
        "公良 漆雕 壤驷 巫马 颛孙 段干 宰父 夹谷 南门 东门 公西 梁丘 呼延 完颜 爱新觉罗 "
        "叶赫那拉"
    )
)

# The common single-character surnames, roughly in order of frequency.
SINGLE_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴"
    "莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅"
    "童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项"
    "连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞"
    "敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花"
    "权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母"
    "裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干尉冶斯元束檀衣信展阴昝智幸奉"
    "植衡富尧闭由蔚濮寿通扶堵冒弓荀羿储汲邴糜松井段富巫乌焦巴弓牧隗山谷车侯宓蓬全郗班仰秋仲伊宫宁仇栾暴"
    "甘钭厉戎祖武符刘景詹束龙叶幸司韶郜黎蓟薄印宿白怀蒲邰从鄂索咸籍赖卓蔺屠蒙池乔阴郁胥能苍双闻莘党翟谭"
    "贡劳逄姬申扶堵冉宰郦雍却璩桑桂濮牛寿通边扈燕冀郏浦尚农温别庄晏柴瞿阎充慕连茹习宦艾鱼容向古易慎戈廖"
    "庾终暨居衡步都耿满弘匡国文寇广禄阙东欧殳沃利蔚越夔隆师巩厍聂晁勾敖融冷訾辛阚那简饶空曾毋沙乜养鞠须"
    "丰巢关蒯相查后荆红游竺权逯盖益桓公"
)

# Traditional forms of common surnames (陳, 張, 劉, ...): Hong Kong, Macau and Taiwan text.
_TRADITIONAL_SURNAMES = frozenset("陳張劉楊黃趙吳孫馬鄭謝許韓馮鄧蕭葉蘇呂盧鍾譚陸賈韋鄒龍賀顧龔萬錢嚴湯羅蔣餘閆")
# Surnames frequent enough (the top ~100, minus everyday function characters) to be trusted
# without a context word when two given-name characters follow.
_FREQUENT_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾肖萧田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚"
    "卢姜崔钟谭陆汪范金石廖贾夏韦付傅方邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵钱严覃武戴莫孔汤"
    "康施樊葛邢齐乔庞颜倪庄聂章鲁岳翟殷詹欧耿焦俞柳祝舒阮柯纪梅凌毕裴霍涂苗骆靳鲍喻祁蒲滕饶"
) | (_TRADITIONAL_SURNAMES - {"餘"})

# Characters common in given names. Used only for the no-context rule, where both given
# characters must come from here, and to stop a name at a character no name would hold.
_GIVEN_CHARS = frozenset(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰玲华红梅辉鹏飞鑫斌宇浩凯俊帅婷雪琳晶颖倩慧莉燕萍"
    "莹琴云峰波宁东建国文志海林金荣新春玉凤珍兵亮成龙晨阳佳欣怡思雨子涵轩博睿泽昊然瑞嘉彤诗琪悦璐瑶梓"
    "萱馨依航翔晓鸿德立永清良宏光伦福祥兴忠安庆松江川元彬旭毅健康振晖星坤铭昌世秋冬雅楠蕾露薇媛妍婉娇"
    "丹瑾琦璇蓉芬芸菲霖岚洁琼冰月彩翠香桃菊莲珠淑惠素贞巧美嫣妮姗婕玥曦昕朗锋钢勋豪彦哲鸣骏腾凡卓远达"
    "聪智灿煜炜炎武斐珊宪政敬慈仁义礼信廷学奇琛瑜瑛璋彪虎鹤凤鸾莺燕雁鹰桐柏杨柳枫榕楷樱桦森淼泉涌浪"
    "潇澜漫沛沁泓洪涵溪源滨海湘渝津鲁晋豫皖闽赣粤琼黔滇陇宝贵富荣昌盛隆泰丰裕恒久长永"
    "勤俭朴诚毅刚坚劲力群众民生友谊秀丽娅婧婵娴姝媚嫦妙姿娥芝蓓蕊薇萌芮茜菡莎苗苹苒荷"
    "鹏程晋轩宸宁静怡心悦乐欢喜庆祥瑞祺禧福寿康泰宜嘉雯霏霄霆雷震"
    # Traditional forms used in Hong Kong, Macau and Taiwan.
    "偉強軍華紅輝鵬飛凱傑濤剛蘭鳳東國榮興慶寧龍陽詩悅瑤萱曉鴻倫暉銘嬌嵐潔瓊蓮貞愛賢權達聰燦煒發財貴寶儀穎詠鳴駿騰靜麗"
)

_SURNAME_RE = (
    "(?:"
    + "|".join(sorted(COMPOUND_SURNAMES, key=len, reverse=True))
    + "|["
    + "".join(sorted(SINGLE_SURNAMES | _TRADITIONAL_SURNAMES))
    + "])"
)

# Words after which a name is expected whatever its characters (姓名：司马懿).
_STRONG_BEFORE = words(
    "姓名 名字 真名 本名 联系人 收件人 收货人 寄件人 发件人 申请人 负责人 持卡人 开户人 "
    "开户名 户名 户主 经办人 签名 签字 法人 法定代表人 投保人 被保险人 受益人 借款人 "
    "担保人 紧急联系人 我叫 叫做 名叫 本人 尊敬的 亲爱的 聯繫人 聯絡人 收件人 尊敬的 親愛的 申請人 負責人"
)
# Words often followed by a name but also by ordinary words (用户来自, 同时): the given-name
# characters must then look like a given name.
_WEAK_BEFORE = words(
    "客户 顾客 用户 患者 病人 员工 职员 学生 乘客 旅客 业主 房东 租客 家属 同事 朋友 "
    "老板 作者 讲师 主讲 经理 主管 我是 感谢 谢谢 请联系 联系 转告 告诉 通知 转给 发给 "
    "交给 抄送 致 找 叫 问 和 与 跟 同 及 由 请 给 让 向 客戶 請聯絡 請聯繫 聯絡 聯繫 感謝 謝謝 與 讓"
)
_AFTER_WORDS = words(
    "先生 女士 小姐 同学 老师 经理 总监 主任 医生 大夫 教授 律师 师傅 阿姨 叔叔 同志 "
    "博士 院长 校长 书记 局长 处长 科长 部长 董事长 总经理 总裁 主管 护士 工程师 会计 "
    "助理 家长 的电话 的手机 的身份证 的邮箱 的地址 的银行卡 的账号 的护照 的微信 的生日 "
    "的住址 的工资 的病历 说 表示 认为 告诉 打电话 来电 致电 负责 主持 发言 汇报 参加 "
    "出席 签收 审批 同意 提出 提交 签字 签名 已 在 今天 明天 昨天 是 的 和 、 ， ,"
)
# Titles after a bare surname ("王先生"): a surname is personal data when addressed like this.
_SURNAME_TITLES = words("先生 女士 小姐 老师 经理 总 医生 教授 律师 师傅 阿姨 叔叔 主任 同学")

# A name ends at punctuation, at a title, or before characters no given name is made of.
_NOT_GIVEN = set("的了是在和与及说吗呢吧啊也都就还又很我你他她它们这那个有没不把被让给从到对向为以于之")

_STRONG_BEFORE_RE = re.compile(
    "(?:" + "|".join(sorted(_STRONG_BEFORE, key=len, reverse=True)) + r")[\s:：,，是为]{0,2}"
    rf"({_SURNAME_RE})([\u4e00-\u9fff]{{1,2}})"
)
_WEAK_BEFORE_RE = re.compile(
    "(?:" + "|".join(sorted(_WEAK_BEFORE, key=len, reverse=True)) + r")[\s:：]{0,2}"
    rf"({_SURNAME_RE})([\u4e00-\u9fff]{{1,2}})"
)
_AFTER_RE = re.compile(
    rf"({_SURNAME_RE})([\u4e00-\u9fff]{{0,2}}?)(?=" + "|".join(sorted(_AFTER_WORDS, key=len, reverse=True)) + ")"
)
_GIVEN_CLASS = "[" + "".join(sorted(_GIVEN_CHARS)) + "]"
_BARE_RE = re.compile("(?=([" + "".join(sorted(_FREQUENT_SURNAMES)) + "]" + _GIVEN_CLASS + _GIVEN_CLASS + "))")
_CLAUSE_START = set("，。、：:；;！!？?（(\"'“”‘’ \n\t【[")
_VERB_AFTER = words("负责 主持 发言 汇报 参加 出席 签收 审批 同意 提出 提交 签字 说 表示")
_LATIN = re.compile(r"[A-Za-z]{2,}")
_ISOLATED_RE = re.compile(
    r"(?<![\u4e00-\u9fff])(?:"
    + "|".join(sorted(COMPOUND_SURNAMES, key=len, reverse=True))
    + "|["
    + "".join(sorted(_FREQUENT_SURNAMES))
    + r"])[\u4e00-\u9fff]{1,2}(?![\u4e00-\u9fff])"
)
_PLACE_ENDINGS = set("省市区县路街镇村州京汉苏港湾")
_STRONG_AFTER = frozenset(_SURNAME_TITLES) | {word for word in _AFTER_WORDS if word.startswith("的") and word != "的"}
# Words made of a one-character context word and a surname character (由于, 同时): not a name.
_CONTEXT_WORDS = frozenset(
    words("由于 同时 及时 及其 和平 与其 同学 请问 给予 向来 问题 让步 跟着 找到 叫做 通知 向上 和谐 给力")
)


def _before_title(text: str, start: int, length: int) -> int:
    """`length` cut where a title begins (尊敬的阎雷先生: the name is 阎雷, not 阎雷先)."""
    for cut in range(length):
        if any(text.startswith(title, start + cut) for title in _SURNAME_TITLES):
            return cut
    return length


def _given_length(given: str, *, name_like: bool = False) -> int:
    """How many leading characters of `given` can belong to a given name.

    With `name_like`, only characters common in given names count.
    """
    length = 0
    for char in given:
        if char in _NOT_GIVEN or (name_like and char not in _GIVEN_CHARS):
            break
        length += 1
    return length


@dataclass(frozen=True, slots=True)
class ChineseNameScanner:
    """Chinese person names found by surname plus context (see the module docstring)."""

    context_score: float = 0.85
    """Score of a name with a context word before or a title after it."""
    bare_score: float = 0.5
    """Score of a three-character name with no context (frequent surname, two given-name characters)."""

    @property
    def entities(self) -> tuple[str, ...]:
        return ("PERSON",)

    def scan(self, text: str, /) -> list[Finding]:
        found: list[Finding] = []
        for m in _STRONG_BEFORE_RE.finditer(text):
            length = _before_title(text, m.end(1), _given_length(m.group(2)))
            if length:
                found.append(Finding("PERSON", m.start(1), m.end(1) + length, self.context_score))
        for m in _WEAK_BEFORE_RE.finditer(text):
            if text[m.start(1) - 1 : m.start(1) + 1] in _CONTEXT_WORDS:
                continue
            length = _given_length(m.group(2), name_like=True) or self._framed_length(text, m)
            length = _before_title(text, m.end(1), length)
            if length:
                found.append(Finding("PERSON", m.start(1), m.end(1) + length, 0.7))
        found.extend(self._isolated(text))
        for m in _AFTER_RE.finditer(text):
            found.extend(self._titled(text, m))
        found.extend(Finding("PERSON", m.start(1), m.end(1), self.bare_score) for m in _BARE_RE.finditer(text))
        return found

    @staticmethod
    def _framed_length(text: str, m: re.Match[str]) -> int:
        """Given-name length when a weak context word stands before and a verb after (由黄想主持)."""
        for length in (2, 1):
            end = m.end(1) + length
            if _given_length(m.group(2)[:length]) == length and any(text.startswith(word, end) for word in _VERB_AFTER):
                return length
        return 0

    def _isolated(self, text: str) -> list[Finding]:
        """In mixed-language text, a short Han run starting with a surname is a name (Customer 李伟 ...)."""
        if not _LATIN.search(text):
            return []
        return [
            Finding("PERSON", m.start(), m.end(), 0.7)
            for m in _ISOLATED_RE.finditer(text)
            if m.group()[-1] not in _PLACE_ENDINGS
        ]

    def _titled(self, text: str, m: re.Match[str]) -> list[Finding]:
        given = m.group(2)
        follower = text[m.end() : m.end() + 4]
        strong = any(follower.startswith(word) for word in _STRONG_AFTER)
        if not given:
            # A bare surname counts only before a title (王先生, 李老师), not before 的/说.
            if any(follower.startswith(word) for word in _SURNAME_TITLES):
                return [Finding("PERSON", m.start(1), m.end(1), 0.6)]
            return []
        if _given_length(given) != len(given):
            return []
        # Weak followers (说, 是, 、) are common after any word; demand a name-like name.
        starts_clause = m.start(1) == 0 or text[m.start(1) - 1] in _CLAUSE_START
        name_like = all(char in _GIVEN_CHARS for char in given) and (
            len(given) == 2 or m.group(1) in _FREQUENT_SURNAMES or starts_clause
        )
        if not strong and not name_like:
            return []
        return [Finding("PERSON", m.start(1), m.end(2), self.context_score if strong else 0.6)]
