"""Name lists for the synthetic parts of the Jintan demo district.

Town names are the real 镇/街道 of Jintan; village names, people and river names
beyond the work plan's are plausible inventions, so the demo never points at a real
person or a real village's record.
"""

from __future__ import annotations

#: Towns and subdistricts: (name, code, English name, kind). 街道 codes 00x, 镇 codes 1xx.
TOWNS = [
    ("东城街道", "320413001", "Dongcheng Subdistrict"),
    ("西城街道", "320413002", "Xicheng Subdistrict"),
    ("尧塘街道", "320413003", "Yaotang Subdistrict"),
    ("金城镇", "320413100", "Jincheng Town"),
    ("儒林镇", "320413101", "Rulin Town"),
    ("直溪镇", "320413102", "Zhixi Town"),
    ("朱林镇", "320413103", "Zhulin Town"),
    ("薛埠镇", "320413104", "Xuebu Town"),
    ("指前镇", "320413105", "Zhiqian Town"),
]

#: Synthetic villages (村/社区) of each town.
VILLAGES = {
    "东城街道": ["东浦社区", "华城社区", "南洲社区", "罗村", "河头村", "汤庄村"],
    "西城街道": ["西门社区", "城西村", "丰登村", "西岗村", "白塔社区", "花山村"],
    "尧塘街道": ["尧塘村", "谢桥村", "汤庄桥村", "仙姑村", "东湾村", "亿晶村", "戴庄村", "新华村"],
    "金城镇": [
        "后阳村",
        "河滨村",
        "城南村",
        "高庄村",
        "南渠村",
        "洋桥村",
        "邵家村",
        "沙湖村",
        "新浮村",
    ],
    "儒林镇": [
        "儒林村",
        "湖头村",
        "长荡村",
        "五叶村",
        "庄城村",
        "柚山村",
        "岸头村",
        "湖溪村",
        "东浦村",
    ],
    "直溪镇": [
        "直溪村",
        "建昌村",
        "巨村",
        "汀湖村",
        "王甲村",
        "荆城村",
        "新兴村",
        "溪东村",
        "洮西村",
    ],
    "朱林镇": ["朱林村", "唐王村", "西岗头村", "黄金山村", "东高村", "墅村", "丁庄村", "大坝头村"],
    "薛埠镇": [
        "薛埠村",
        "茅东村",
        "花山头村",
        "上阮村",
        "仙姑岭村",
        "方麓村",
        "连山村",
        "罗村坝村",
        "上河村",
    ],
    "指前镇": [
        "指前村",
        "东浦村",
        "河口村",
        "城西庄村",
        "团结村",
        "标准村",
        "新建村",
        "塘东村",
        "西阳村",
    ],
}

SURNAMES = list(
    "王李张刘陈杨黄赵周吴徐孙朱马胡郭林何高梁郑罗宋谢唐韩曹许邓萧冯曾程蔡彭潘袁于董余苏叶吕魏蒋田杜丁沈姜范江傅钟卢汪戴崔任陆廖姚方金邱夏谭韦贾邹石熊孟秦阎薛侯雷白龙段郝孔邵史毛常万顾赖武康贺严尹钱施牛洪龚"
)
GIVEN = list(
    "建国华明军平伟强磊洋勇艳敏静丽芳娟霞红涛斌波辉刚健峰俊杰鹏飞宇浩凯亮文志新东海春晓燕玲秀英兰梅云雪琴娜婷"
)

#: Posts of river chiefs by grade.
CHIEF_TITLES = {
    "区级": ["区委书记", "区长", "常务副区长", "副区长", "区人大常委会副主任", "区政协副主席"],
    "镇级": ["镇党委书记", "镇长", "副镇长", "街道党工委书记", "街道办事处主任"],
    "村级": ["村党总支书记", "村委会主任", "村委会副主任"],
}

#: Extra village-grade rivers, placed procedurally inside towns.
VILLAGE_RIVERS = [
    "前进河",
    "胜利河",
    "团结河",
    "红星河",
    "联丰河",
    "荷花港",
    "长塘河",
    "杨家港",
    "新开河",
    "横塘河",
    "后河",
    "沙河",
    "东风河",
    "丰收河",
    "西干渠",
    "东干渠",
    "友谊河",
    "庄前河",
]

#: Responsible units for violations besides the town governments.
DISTRICT_UNITS = [
    "区水利局",
    "区自然资源和规划局",
    "区城市管理局",
    "常州市金坛生态环境局",
    "区农业农村局",
]

VIOLATION_TEXT = {
    "乱占": [
        "河道管理范围内违法圈圩养殖",
        "违法占用河道种植高秆作物",
        "临河违规搭建码头",
        "占用河道堆场经营",
    ],
    "乱采": ["河道内非法采砂", "湖区非法取土", "堤防违规取土"],
    "乱堆": ["河岸堆放生活垃圾", "河坡堆放建筑垃圾", "堤顶堆放杂物", "河道内倾倒渣土"],
    "乱建": ["管理范围内违建厂房", "河坡违建养殖棚", "临水违建房屋", "违规搭建简易棚"],
}
