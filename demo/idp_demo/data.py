"""Names for the demo directory: the province's units and common Vietnamese personal names.

The shape follows the province's personnel system (see docs/directory.md): 24 departments
with 77 sub-units, 8 district-level units with 107 offices, 75 communes, 23 high schools,
296 other schools and 93 health centres and stations.
"""

from __future__ import annotations

# Data tables, laid out by hand for reading.
# fmt: off

PROVINCE = ("HG", "Ủy ban nhân dân tỉnh Hậu Giang")
DOMAIN = "haugiang.gov.vn"

# (code, name, [(code suffix, sub-unit name), ...]): 24 departments, 77 sub-units.
DEPARTMENTS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("VPUB", "Văn phòng Ủy ban nhân dân tỉnh", [
        ("TTPVHCC", "Trung tâm Phục vụ hành chính công"),
        ("BTCD", "Ban Tiếp công dân tỉnh"),
        ("TTCB", "Trung tâm Công báo - Tin học"),
    ]),
    ("VPDB", "Văn phòng Đoàn đại biểu Quốc hội và Hội đồng nhân dân tỉnh", []),
    ("SNV", "Sở Nội vụ", [
        ("BTDKT", "Ban Thi đua - Khen thưởng"),
        ("BTG", "Ban Tôn giáo"),
        ("CCVTLT", "Chi cục Văn thư - Lưu trữ"),
        ("TTLT", "Trung tâm Lưu trữ lịch sử"),
    ]),
    ("STC", "Sở Tài chính", [
        ("TTTV", "Trung tâm Thông tin và Tư vấn tài chính"),
        ("TTR", "Thanh tra Sở Tài chính"),
    ]),
    ("SKHDT", "Sở Kế hoạch và Đầu tư", [
        ("TTXT", "Trung tâm Xúc tiến đầu tư và Hỗ trợ doanh nghiệp"),
        ("TTR", "Thanh tra Sở Kế hoạch và Đầu tư"),
    ]),
    ("STP", "Sở Tư pháp", [
        ("TTTGPL", "Trung tâm Trợ giúp pháp lý nhà nước"),
        ("PCC1", "Phòng Công chứng số 1"),
        ("TTDG", "Trung tâm Dịch vụ đấu giá tài sản"),
    ]),
    ("SCT", "Sở Công Thương", [
        ("TTKC", "Trung tâm Khuyến công và Tư vấn phát triển công nghiệp"),
        ("TTXTTM", "Trung tâm Xúc tiến thương mại"),
        ("TTR", "Thanh tra Sở Công Thương"),
    ]),
    ("SNN", "Sở Nông nghiệp và Phát triển nông thôn", [
        ("CCTL", "Chi cục Thủy lợi"),
        ("CCKL", "Chi cục Kiểm lâm"),
        ("CCCNTY", "Chi cục Chăn nuôi và Thú y"),
        ("CCTTBVTV", "Chi cục Trồng trọt và Bảo vệ thực vật"),
        ("CCPTNT", "Chi cục Phát triển nông thôn"),
        ("CCQLCL", "Chi cục Quản lý chất lượng Nông lâm sản và Thủy sản"),
        ("TTKN", "Trung tâm Khuyến nông"),
        ("TTNS", "Trung tâm Nước sạch và Vệ sinh môi trường nông thôn"),
        ("TTGIONG", "Trung tâm Giống nông nghiệp"),
        ("KBTLNH", "Khu Bảo tồn thiên nhiên Lung Ngọc Hoàng"),
    ]),
    ("SGTVT", "Sở Giao thông vận tải", [
        ("TTDK", "Trung tâm Đăng kiểm phương tiện giao thông"),
        ("TTR", "Thanh tra Sở Giao thông vận tải"),
        ("BQLBT", "Ban Quản lý bảo trì đường bộ"),
    ]),
    ("SXD", "Sở Xây dựng", [
        ("TTQH", "Trung tâm Quy hoạch và Kiểm định xây dựng"),
        ("TTR", "Thanh tra Sở Xây dựng"),
    ]),
    ("STNMT", "Sở Tài nguyên và Môi trường", [
        ("VPDKDD", "Văn phòng Đăng ký đất đai"),
        ("TTQT", "Trung tâm Quan trắc tài nguyên và môi trường"),
        ("TTPTQD", "Trung tâm Phát triển quỹ đất"),
        ("TTKTDD", "Trung tâm Kỹ thuật tài nguyên và môi trường"),
        ("CCBVMT", "Chi cục Bảo vệ môi trường"),
        ("TTR", "Thanh tra Sở Tài nguyên và Môi trường"),
    ]),
    ("STTTT", "Sở Thông tin và Truyền thông", [
        ("TTCNTT", "Trung tâm Công nghệ thông tin và Truyền thông"),
        ("TTGSDH", "Trung tâm Giám sát, điều hành đô thị thông minh"),
        ("TTR", "Thanh tra Sở Thông tin và Truyền thông"),
    ]),
    ("SLDTBXH", "Sở Lao động - Thương binh và Xã hội", [
        ("TTBTXH", "Trung tâm Bảo trợ xã hội"),
        ("TTDVVL", "Trung tâm Dịch vụ việc làm"),
        ("CSCN", "Cơ sở Cai nghiện ma túy"),
        ("TTCTXH", "Trung tâm Công tác xã hội"),
        ("NGTN", "Nghĩa trang liệt sĩ tỉnh"),
        ("CDN", "Trường Cao đẳng nghề Hậu Giang"),
    ]),
    ("SVHTTDL", "Sở Văn hóa, Thể thao và Du lịch", [
        ("BT", "Bảo tàng tỉnh"),
        ("TV", "Thư viện tỉnh"),
        ("TTVH", "Trung tâm Văn hóa tỉnh"),
        ("TTHLTD", "Trung tâm Huấn luyện và Thi đấu thể dục thể thao"),
        ("TTXTDL", "Trung tâm Xúc tiến du lịch"),
        ("BQLDT", "Ban Quản lý Khu di tích Chiến thắng Chương Thiện"),
    ]),
    ("SKHCN", "Sở Khoa học và Công nghệ", [
        ("CCTDC", "Chi cục Tiêu chuẩn Đo lường Chất lượng"),
        ("TTUD", "Trung tâm Ứng dụng tiến bộ khoa học và công nghệ"),
    ]),
    ("SGDDT", "Sở Giáo dục và Đào tạo", [
        ("TTGDTX", "Trung tâm Giáo dục thường xuyên tỉnh"),
        ("TTKTTH", "Trung tâm Kỹ thuật tổng hợp - Hướng nghiệp"),
        ("TTNNTH", "Trung tâm Ngoại ngữ - Tin học"),
    ]),
    ("SYT", "Sở Y tế", [
        ("BVDK", "Bệnh viện Đa khoa tỉnh Hậu Giang"),
        ("BVSN", "Bệnh viện Sản - Nhi"),
        ("BVLP", "Bệnh viện Lao và Bệnh phổi"),
        ("BVTT", "Bệnh viện Tâm thần"),
        ("BVYHCT", "Bệnh viện Y học cổ truyền"),
        ("TTKSBT", "Trung tâm Kiểm soát bệnh tật"),
        ("TTKN", "Trung tâm Kiểm nghiệm thuốc, mỹ phẩm, thực phẩm"),
        ("TTGDYK", "Trung tâm Giám định y khoa"),
        ("CCDS", "Chi cục Dân số - Kế hoạch hóa gia đình"),
        ("CCATTP", "Chi cục An toàn vệ sinh thực phẩm"),
        ("TTCC", "Trung tâm Cấp cứu 115"),
    ]),
    ("TTRT", "Thanh tra tỉnh", []),
    ("BDT", "Ban Dân tộc", []),
    ("BQLKCN", "Ban Quản lý các khu công nghiệp", [
        ("TTDV", "Trung tâm Dịch vụ khu công nghiệp"),
    ]),
    ("SNGV", "Sở Ngoại vụ", []),
    ("DPTTH", "Đài Phát thanh và Truyền hình Hậu Giang", [
        ("PTS", "Phòng Thời sự"),
        ("PKT", "Phòng Kỹ thuật - Công nghệ"),
    ]),
    ("BQLDA", "Ban Quản lý dự án đầu tư xây dựng tỉnh", [
        ("BQLDAGT", "Ban Quản lý dự án công trình giao thông"),
        ("BQLDADD", "Ban Quản lý dự án công trình dân dụng và công nghiệp"),
    ]),
    ("TCT", "Trường Chính trị tỉnh", [
        ("KLLCS", "Khoa Lý luận cơ sở"),
        ("KXDD", "Khoa Xây dựng Đảng"),
        ("KNNPL", "Khoa Nhà nước và Pháp luật"),
    ]),
]

# (code, kind of place, name, [communes]): 8 district-level units, 75 communes.
DISTRICTS: list[tuple[str, str, str, list[str]]] = [
    ("VT", "thành phố", "Vị Thanh", [
        "Phường I", "Phường III", "Phường IV", "Phường V", "Phường VII",
        "Xã Vị Tân", "Xã Hỏa Lựu", "Xã Tân Tiến", "Xã Hỏa Tiến",
    ]),
    ("NB", "thành phố", "Ngã Bảy", [
        "Phường Ngã Bảy", "Phường Lái Hiếu", "Phường Hiệp Thành", "Phường Hiệp Lợi",
        "Xã Đại Thành", "Xã Tân Thành",
    ]),
    ("LMX", "thị xã", "Long Mỹ", [
        "Phường Thuận An", "Phường Trà Lồng", "Phường Bình Thạnh", "Phường Vĩnh Tường",
        "Xã Long Bình", "Xã Long Trị", "Xã Long Trị A", "Xã Long Phú", "Xã Tân Phú",
    ]),
    ("CT", "huyện", "Châu Thành", [
        "Thị trấn Ngã Sáu", "Thị trấn Mái Dầm", "Xã Đông Thạnh", "Xã Đông Phú",
        "Xã Phú Hữu", "Xã Phú Tân", "Xã Đông Phước", "Xã Đông Phước A",
    ]),
    ("CTA", "huyện", "Châu Thành A", [
        "Thị trấn Một Ngàn", "Thị trấn Bảy Ngàn", "Thị trấn Rạch Gòi", "Thị trấn Cái Tắc",
        "Xã Tân Hòa", "Xã Trường Long Tây", "Xã Thạnh Xuân", "Xã Tân Phú Thạnh",
        "Xã Nhơn Nghĩa A", "Xã Trường Long A",
    ]),
    ("PH", "huyện", "Phụng Hiệp", [
        "Thị trấn Cây Dương", "Thị trấn Kinh Cùng", "Thị trấn Búng Tàu", "Xã Thạnh Hòa",
        "Xã Hòa An", "Xã Hòa Mỹ", "Xã Phụng Hiệp", "Xã Long Thạnh", "Xã Tân Bình",
        "Xã Bình Thành", "Xã Tân Long", "Xã Hiệp Hưng", "Xã Phương Bình",
        "Xã Tân Phước Hưng", "Xã Phương Phú",
    ]),
    ("VTY", "huyện", "Vị Thủy", [
        "Thị trấn Nàng Mau", "Xã Vị Thủy", "Xã Vị Thắng", "Xã Vị Trung", "Xã Vị Bình",
        "Xã Vị Đông", "Xã Vị Thanh", "Xã Vĩnh Thuận Tây", "Xã Vĩnh Trung", "Xã Vĩnh Tường",
    ]),
    ("LMH", "huyện", "Long Mỹ", [
        "Thị trấn Vĩnh Viễn", "Xã Vĩnh Viễn A", "Xã Lương Tâm", "Xã Lương Nghĩa",
        "Xã Xà Phiên", "Xã Thuận Hưng", "Xã Thuận Hòa", "Xã Vĩnh Thuận Đông",
    ]),
]

# Specialised offices of every district-level People's Committee: 8 x 13 = 104, plus the
# ethnic-affairs office of the three districts with a large Khmer community: 107.
DISTRICT_OFFICES: list[tuple[str, str]] = [
    ("VP", "Văn phòng Hội đồng nhân dân và Ủy ban nhân dân"),
    ("PNV", "Phòng Nội vụ"),
    ("PTP", "Phòng Tư pháp"),
    ("PTCKH", "Phòng Tài chính - Kế hoạch"),
    ("PTNMT", "Phòng Tài nguyên và Môi trường"),
    ("PLDTBXH", "Phòng Lao động - Thương binh và Xã hội"),
    ("PVHTT", "Phòng Văn hóa và Thông tin"),
    ("PGDDT", "Phòng Giáo dục và Đào tạo"),
    ("PYT", "Phòng Y tế"),
    ("TTR", "Thanh tra"),
    ("PKTHT", "Phòng Kinh tế và Hạ tầng"),
    ("PNN", "Phòng Nông nghiệp và Phát triển nông thôn"),
    ("TTVHTT", "Trung tâm Văn hóa - Thông tin và Thể thao"),
]
# Cities have an urban-management and an economy office instead of the two rural ones.
CITY_OFFICES = {
    "PKTHT": ("PQLDT", "Phòng Quản lý đô thị"),
    "PNN": ("PKT", "Phòng Kinh tế"),
}
ETHNIC_OFFICE = ("PDT", "Phòng Dân tộc")
ETHNIC_DISTRICTS = ("CT", "PH", "LMH")

# 23 high schools, under the Department of Education and Training.
HIGH_SCHOOLS = [
    "Chuyên Vị Thanh", "Vị Thanh", "Chiêm Thành Tấn", "Ngã Bảy", "Lê Quý Đôn", "Long Mỹ",
    "Tân Phú", "Lương Tâm", "Tây Đô", "Lương Thế Vinh", "Cái Tắc", "Tầm Vu", "Trường Long Tây",
    "Nguyễn Minh Quang", "Phú Hữu", "Ngã Sáu", "Cây Dương", "Hòa An", "Tân Long",
    "Lê Hồng Phong", "Vị Thủy", "Vĩnh Tường", "Châu Thành A",
]

# Regional polyclinics (with the 8 district health centres and 75 commune stations: 93).
CLINICS = [
    ("CTA", "Cái Tắc"), ("CTA", "Bảy Ngàn"), ("PH", "Búng Tàu"), ("PH", "Kinh Cùng"),
    ("LMH", "Xà Phiên"), ("LMH", "Vĩnh Viễn"), ("CT", "Mái Dầm"), ("VTY", "Nàng Mau"),
    ("LMX", "Trà Lồng"), ("NB", "Lái Hiếu"),
]

# Family names with rough weights (per cent) for the Mekong delta: Huỳnh and Võ are the
# southern spellings of Hoàng and Vũ and far more common here.
FAMILY_NAMES = [
    ("Nguyễn", 31), ("Trần", 11), ("Lê", 9), ("Phạm", 6), ("Huỳnh", 6), ("Võ", 5),
    ("Phan", 4), ("Hoàng", 2), ("Vũ", 1), ("Đặng", 2), ("Bùi", 2), ("Đỗ", 1), ("Hồ", 2),
    ("Ngô", 2), ("Dương", 2), ("Lý", 2), ("Trương", 2), ("Đoàn", 1), ("Lâm", 2), ("Mai", 1),
    ("Châu", 1), ("Thạch", 1), ("Danh", 1), ("Tô", 1), ("Cao", 1),
]
MIDDLE_NAMES_MALE = [
    "Văn", "Minh", "Hoàng", "Thanh", "Quốc", "Hữu", "Đức", "Công", "Tấn", "Trọng", "Phước", "Chí",
]
MIDDLE_NAMES_FEMALE = [
    "Thị", "Ngọc", "Thanh", "Thu", "Kim", "Mỹ", "Hồng", "Bích", "Phương", "Diễm", "Thúy",
]
GIVEN_NAMES_MALE = [
    "An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hiếu", "Hùng", "Huy", "Khang", "Khoa", "Kiên",
    "Lâm", "Lộc", "Long", "Minh", "Nam", "Nghĩa", "Phát", "Phong", "Phúc", "Quang", "Sơn", "Tài",
    "Tâm", "Thắng", "Thành", "Thiện", "Toàn", "Trí", "Trung", "Tuấn", "Việt", "Vinh", "Khánh",
    "Nhân", "Hậu", "Duy", "Tùng", "Thịnh",
]
GIVEN_NAMES_FEMALE = [
    "Anh", "Châu", "Diễm", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Hồng", "Hương",
    "Huyền", "Lan", "Linh", "Loan", "Mai", "My", "Nga", "Ngân", "Nhung", "Oanh", "Phượng",
    "Quyên", "Thảo", "Thư", "Thủy", "Trang", "Trinh", "Tuyết", "Uyên", "Vân", "Xuân", "Yến",
    "Hân", "Nhi", "Như", "Ngọc", "Tiên", "Thắm",
]

TITLES = {
    "province": ["Chuyên viên", "Chuyên viên chính", "Phó Chánh Văn phòng"],
    "department": ["Chuyên viên", "Chuyên viên", "Chuyên viên chính", "Trưởng phòng",
                   "Phó Trưởng phòng", "Văn thư", "Kế toán", "Thanh tra viên"],
    "sub_unit": ["Chuyên viên", "Viên chức", "Kỹ sư", "Phó Giám đốc", "Kế toán", "Nhân viên"],
    "district": ["Chuyên viên", "Phó Chủ tịch UBND", "Chánh Văn phòng", "Văn thư"],
    "office": ["Chuyên viên", "Chuyên viên", "Trưởng phòng", "Phó Trưởng phòng"],
    "commune": ["Công chức Tư pháp - Hộ tịch", "Công chức Địa chính - Xây dựng",
                "Công chức Văn phòng - Thống kê", "Công chức Tài chính - Kế toán",
                "Công chức Văn hóa - Xã hội", "Phó Chủ tịch UBND"],
    "high_school": ["Giáo viên", "Giáo viên", "Giáo viên", "Phó Hiệu trưởng", "Kế toán",
                    "Nhân viên thư viện"],
    "school": ["Giáo viên", "Giáo viên", "Giáo viên", "Phó Hiệu trưởng", "Kế toán"],
    "health_centre": ["Bác sĩ", "Y sĩ", "Điều dưỡng", "Điều dưỡng", "Dược sĩ", "Hộ sinh",
                      "Kỹ thuật viên"],
}
HEAD_TITLES = {
    "province": "Chánh Văn phòng",
    "department": "Giám đốc",
    "sub_unit": "Giám đốc",
    "district": "Chủ tịch UBND",
    "office": "Trưởng phòng",
    "commune": "Chủ tịch UBND",
    "high_school": "Hiệu trưởng",
    "school": "Hiệu trưởng",
    "health_centre": "Giám đốc",
}

# How many people a unit of each kind has, relative to the others.
STAFF_WEIGHTS = {
    "province": 30, "department": 55, "sub_unit": 16, "district": 25, "office": 7,
    "commune": 19, "high_school": 42, "school": 11, "health_centre": 9,
}
# fmt: on
