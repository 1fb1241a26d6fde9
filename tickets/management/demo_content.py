"""The hand-written content of the demo organisation: levels, teams, people, customers and the
German and English ticket texts that `manage.py seed_demo` draws from.

Plain data only; `tickets/management/demo.py` does the seeding. Names are the idempotency keys:
levels by rank, teams by name, users by user name, customers by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from tickets.models import Customer, Team, Ticket
from tickets.priority import Impact, Urgency

# --- Organisation ---------------------------------------------------------------------------

# The escalation chain of the source documents (REQUIREMENTS.md, table "Escalation chain").
LEVELS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "1st level support",
        "Support / first contact. Takes standard cases that can be solved within the SLA. "
        "Typical actions: fix the problem or provide a workaround, and document everything in "
        "the ticket. Forwards complex cases to the 2nd level.",
    ),
    (
        2,
        "2nd level (experts / team leads)",
        "Subject-matter experts and team leads. Takes complex faults and cases that stay "
        "unsolved for more than a set number of hours. Typical actions: deep dive, log "
        "analysis, temporary measures. Functional teams (security, billing, returns, "
        "complaints) are brought in laterally at this level.",
    ),
    (
        3,
        "Incident / service management",
        "Incident and service managers. Takes SLA breaches and incidents affecting many "
        "customers. Typical actions: coordination, information of stakeholders, escalation to "
        "management.",
    ),
    (
        4,
        "Management / crisis team",
        "Management and crisis team. Takes existential risks and cases with legal "
        "consequences. Typical actions: strategic decisions, external communication, "
        "resources.",
    ),
)


@dataclass(frozen=True)
class TeamSpec:
    key: str
    name: str
    kind: str
    rank: int
    escalates_to: str | None
    email: str
    lead: str
    members: tuple[str, ...]


TIER = Team.Kind.TIER
FUNCTIONAL = Team.Kind.FUNCTIONAL

# Top of the chain first, so that every team's `escalates_to` exists when it is created.
TEAMS: tuple[TeamSpec, ...] = (
    TeamSpec(
        "management",
        "Management",
        TIER,
        4,
        None,
        "management@helpdesk.example",
        "claudia.neumann",
        ("robert.hughes",),
    ),
    TeamSpec(
        "incident",
        "Incident Management",
        TIER,
        3,
        "management",
        "incident@helpdesk.example",
        "stefan.roth",
        ("emma.fischer", "liam.murphy"),
    ),
    TeamSpec(
        "experts",
        "Product Experts",
        TIER,
        2,
        "incident",
        "experts@helpdesk.example",
        "martin.krause",
        ("julia.berger", "ravi.sharma", "hannah.lewis"),
    ),
    TeamSpec(
        "desk_de",
        "Service Desk DE",
        TIER,
        1,
        "experts",
        "servicedesk-de@helpdesk.example",
        "katrin.vogel",
        ("lukas.meier", "sophie.schulz", "felix.wagner", "lea.hartmann"),
    ),
    TeamSpec(
        "desk_en",
        "Service Desk EN",
        TIER,
        1,
        "experts",
        "servicedesk-en@helpdesk.example",
        "oliver.bennett",
        ("chloe.turner", "james.patel", "grace.kim", "noah.evans"),
    ),
    TeamSpec(
        "security",
        "Security",
        FUNCTIONAL,
        2,
        None,
        "security@helpdesk.example",
        "tobias.lang",
        ("nina.zimmer", "alex.morgan"),
    ),
    TeamSpec(
        "billing",
        "Billing",
        FUNCTIONAL,
        2,
        None,
        "billing@helpdesk.example",
        "sandra.koch",
        ("peter.walsh", "anja.schreiber"),
    ),
    TeamSpec(
        "returns",
        "Returns & warranty",
        FUNCTIONAL,
        2,
        None,
        "returns@helpdesk.example",
        "markus.huber",
        ("lisa.brown", "jan.peters"),
    ),
    TeamSpec(
        "complaints",
        "Complaints",
        FUNCTIONAL,
        2,
        None,
        "complaints@helpdesk.example",
        "birgit.seidel",
        ("sam.collins",),
    ),
)

ADMIN_USERNAME = "admin"
# Demo passwords: fixed and printed at the end of the run. Demo data only, never production.
ADMIN_PASSWORD = "demo-admin-2026"  # noqa: S105
LEAD_PASSWORD = "demo-lead-2026"  # noqa: S105
AGENT_PASSWORD = "demo-agent-2026"  # noqa: S105

PEOPLE: dict[str, tuple[str, str]] = {
    "admin": ("Ada", "Admin"),
    "claudia.neumann": ("Claudia", "Neumann"),
    "robert.hughes": ("Robert", "Hughes"),
    "stefan.roth": ("Stefan", "Roth"),
    "emma.fischer": ("Emma", "Fischer"),
    "liam.murphy": ("Liam", "Murphy"),
    "martin.krause": ("Martin", "Krause"),
    "julia.berger": ("Julia", "Berger"),
    "ravi.sharma": ("Ravi", "Sharma"),
    "hannah.lewis": ("Hannah", "Lewis"),
    "katrin.vogel": ("Katrin", "Vogel"),
    "lukas.meier": ("Lukas", "Meier"),
    "sophie.schulz": ("Sophie", "Schulz"),
    "felix.wagner": ("Felix", "Wagner"),
    "lea.hartmann": ("Lea", "Hartmann"),
    "oliver.bennett": ("Oliver", "Bennett"),
    "chloe.turner": ("Chloe", "Turner"),
    "james.patel": ("James", "Patel"),
    "grace.kim": ("Grace", "Kim"),
    "noah.evans": ("Noah", "Evans"),
    "tobias.lang": ("Tobias", "Lang"),
    "nina.zimmer": ("Nina", "Zimmer"),
    "alex.morgan": ("Alex", "Morgan"),
    "sandra.koch": ("Sandra", "Koch"),
    "peter.walsh": ("Peter", "Walsh"),
    "anja.schreiber": ("Anja", "Schreiber"),
    "markus.huber": ("Markus", "Huber"),
    "lisa.brown": ("Lisa", "Brown"),
    "jan.peters": ("Jan", "Peters"),
    "birgit.seidel": ("Birgit", "Seidel"),
    "sam.collins": ("Sam", "Collins"),
}


@dataclass(frozen=True)
class CustomerSpec:
    name: str
    kind: str
    tier: str
    is_vip: bool
    contract: str
    lang: str
    contact: str
    salutation: str
    email: str
    phone: str = ""
    notes: str = ""


ORG = Customer.Kind.ORGANISATION
PERSON = Customer.Kind.PERSON
STANDARD, PREMIUM, ENTERPRISE = (
    Customer.Tier.STANDARD,
    Customer.Tier.PREMIUM,
    Customer.Tier.ENTERPRISE,
)

CUSTOMERS: tuple[CustomerSpec, ...] = (
    CustomerSpec(
        "Müller Maschinenbau GmbH",
        ORG,
        ENTERPRISE,
        True,
        "Gold-24x7",
        "de",
        "Andrea Keller",
        "Sehr geehrte Frau Keller",
        "it-service@mueller-maschinenbau.example",
        "+49 711 4930 100",
        "Produktion im Dreischichtbetrieb; Ausfälle sofort an Incident Management.",
    ),
    CustomerSpec(
        "Stadtwerke Nordheim",
        ORG,
        ENTERPRISE,
        True,
        "Gold-24x7",
        "de",
        "Thomas Brenner",
        "Sehr geehrter Herr Brenner",
        "leitstelle@stadtwerke-nordheim.example",
        "+49 7133 980 0",
        "Kritische Infrastruktur (KRITIS).",
    ),
    CustomerSpec(
        "Nordlicht Versicherung AG",
        ORG,
        ENTERPRISE,
        True,
        "Platinum-24x7-Dedicated",
        "de",
        "Dr. Miriam Albers",
        "Sehr geehrte Frau Dr. Albers",
        "servicedesk@nordlicht-versicherung.example",
        "+49 40 3344 7000",
        "Dedizierter Ansprechpartner: Incident Management.",
    ),
    CustomerSpec(
        "Lindner Logistik AG",
        ORG,
        PREMIUM,
        False,
        "Silver-Business-Hours",
        "de",
        "Jens Lindner",
        "Guten Tag Herr Lindner",
        "edv@lindner-logistik.example",
        "+49 421 55 66 0",
    ),
    CustomerSpec(
        "Weber & Söhne Elektrotechnik",
        ORG,
        PREMIUM,
        False,
        "Silver-Business-Hours",
        "de",
        "Petra Weber",
        "Guten Tag Frau Weber",
        "info@weber-soehne.example",
    ),
    CustomerSpec(
        "Kanzlei Brandt Rechtsanwälte",
        ORG,
        PREMIUM,
        False,
        "Silver-Business-Hours",
        "de",
        "Karl Brandt",
        "Sehr geehrter Herr Brandt",
        "kanzlei@brandt-recht.example",
    ),
    CustomerSpec(
        "Autohaus Krämer GmbH",
        ORG,
        PREMIUM,
        False,
        "Silver-Business-Hours",
        "de",
        "Sven Krämer",
        "Guten Tag Herr Krämer",
        "service@autohaus-kraemer.example",
    ),
    CustomerSpec(
        "Bäckerei Sonnenschein KG",
        ORG,
        STANDARD,
        False,
        "Bronze-Basic",
        "de",
        "Monika Sonnenschein",
        "Guten Tag Frau Sonnenschein",
        "bestellung@baeckerei-sonnenschein.example",
    ),
    CustomerSpec(
        "Praxis Dr. Hoffmann",
        ORG,
        STANDARD,
        False,
        "Bronze-Basic",
        "de",
        "Dr. Ulrike Hoffmann",
        "Sehr geehrte Frau Dr. Hoffmann",
        "praxis@dr-hoffmann.example",
    ),
    CustomerSpec(
        "Hotel Seeblick Konstanz",
        ORG,
        STANDARD,
        False,
        "",
        "de",
        "Markus Seidl",
        "Guten Tag Herr Seidl",
        "rezeption@seeblick-konstanz.example",
    ),
    CustomerSpec(
        "Gemeindeverwaltung Talheim",
        ORG,
        STANDARD,
        False,
        "Bronze-Basic",
        "de",
        "Gabriele Fuchs",
        "Sehr geehrte Frau Fuchs",
        "it@talheim.example",
    ),
    CustomerSpec(
        "FitWerk Studios",
        ORG,
        STANDARD,
        False,
        "",
        "de",
        "Kevin Schäfer",
        "Hallo Herr Schäfer",
        "kontakt@fitwerk.example",
    ),
    CustomerSpec(
        "Brightwater Logistics Ltd",
        ORG,
        ENTERPRISE,
        True,
        "Gold-24x7",
        "en",
        "Sarah Mitchell",
        "Hi Sarah",
        "it-support@brightwater.example",
        "+44 20 7946 0301",
        "Warehouse systems run 24/7; outages go straight to incident management.",
    ),
    CustomerSpec(
        "Bluebird Health Clinics",
        ORG,
        ENTERPRISE,
        True,
        "Platinum-24x7-Dedicated",
        "en",
        "Dr. Helen Carter",
        "Dear Dr. Carter",
        "systems@bluebird-health.example",
        "+1 617 555 0142",
        "Healthcare provider: personal data requests are time-critical.",
    ),
    CustomerSpec(
        "Atlas Fintech Ltd",
        ORG,
        ENTERPRISE,
        True,
        "Gold-24x7",
        "en",
        "Marcus Reid",
        "Hi Marcus",
        "platform@atlas-fintech.example",
        "+44 20 7946 0877",
    ),
    CustomerSpec(
        "Greenfield University",
        ORG,
        ENTERPRISE,
        False,
        "Gold-24x7",
        "en",
        "Prof. Linda Shaw",
        "Dear Professor Shaw",
        "helpdesk@greenfield-university.example",
    ),
    CustomerSpec(
        "Harbor & Finch Consulting",
        ORG,
        PREMIUM,
        False,
        "Silver-Business-Hours",
        "en",
        "Daniel Finch",
        "Hi Daniel",
        "office@harborfinch.example",
    ),
    CustomerSpec(
        "Maple Leaf Retail Inc.",
        ORG,
        PREMIUM,
        False,
        "Silver-Business-Hours",
        "en",
        "Olivia Tremblay",
        "Hi Olivia",
        "support@mapleleaf-retail.example",
    ),
    CustomerSpec(
        "Quantum Parcel Services",
        ORG,
        PREMIUM,
        False,
        "Silver-Business-Hours",
        "en",
        "Ethan Brooks",
        "Hi Ethan",
        "ops@quantumparcel.example",
    ),
    CustomerSpec(
        "Northwind Traders",
        ORG,
        STANDARD,
        False,
        "Bronze-Basic",
        "en",
        "Laura Callahan",
        "Hi Laura",
        "admin@northwind.example",
    ),
    CustomerSpec(
        "Oakridge Property Management",
        ORG,
        STANDARD,
        False,
        "",
        "en",
        "Brian Walsh",
        "Hi Brian",
        "office@oakridge-pm.example",
    ),
    CustomerSpec(
        "Copperleaf Games",
        ORG,
        STANDARD,
        False,
        "Bronze-Basic",
        "en",
        "Mia Chen",
        "Hi Mia",
        "studio@copperleaf.example",
    ),
    CustomerSpec(
        "Jonas Becker",
        PERSON,
        STANDARD,
        False,
        "",
        "de",
        "Jonas Becker",
        "Guten Tag Herr Becker",
        "jonas.becker@mail.example",
    ),
    CustomerSpec(
        "Sabine Wolf",
        PERSON,
        STANDARD,
        False,
        "",
        "de",
        "Sabine Wolf",
        "Guten Tag Frau Wolf",
        "s.wolf@mail.example",
    ),
    CustomerSpec(
        "Mehmet Yılmaz",
        PERSON,
        PREMIUM,
        False,
        "",
        "de",
        "Mehmet Yılmaz",
        "Guten Tag Herr Yılmaz",
        "mehmet.yilmaz@mail.example",
    ),
    CustomerSpec(
        "Claudia Richter",
        PERSON,
        STANDARD,
        True,
        "",
        "de",
        "Claudia Richter",
        "Guten Tag Frau Richter",
        "c.richter@mail.example",
        notes="Langjährige Kundin, Markenbotschafterin in sozialen Medien.",
    ),
    CustomerSpec(
        "Emily Carter",
        PERSON,
        STANDARD,
        False,
        "",
        "en",
        "Emily Carter",
        "Hi Emily",
        "emily.carter@mail.example",
    ),
    CustomerSpec(
        "Daniel O'Brien",
        PERSON,
        STANDARD,
        False,
        "",
        "en",
        "Daniel O'Brien",
        "Hi Daniel",
        "dobrien@mail.example",
    ),
    CustomerSpec(
        "Priya Natarajan",
        PERSON,
        PREMIUM,
        False,
        "",
        "en",
        "Priya Natarajan",
        "Hi Priya",
        "priya.n@mail.example",
    ),
    CustomerSpec(
        "Tom Whitaker",
        PERSON,
        STANDARD,
        False,
        "",
        "en",
        "Tom Whitaker",
        "Dear Mr Whitaker",
        "tom.whitaker@mail.example",
    ),
)


# --- Ticket texts ---------------------------------------------------------------------------
# Placeholders, filled per ticket: {contact} {customer} {product} {since} {time} {date}
# {error} {endpoint} {host} {count} {order} {invoice} {amount} {device} {serial}.


@dataclass(frozen=True)
class Case:
    """A subject with the description that goes with it; its own notes/solutions if it has any."""

    subject: str
    description: str
    notes: tuple[str, ...] = ()
    solutions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Texts:
    cases: tuple[Case, ...]
    asks: tuple[str, ...] = ()  # the agent asks for something and waits (pending)
    answers: tuple[str, ...] = ()  # the customer's answer to that
    notes: tuple[str, ...] = ()  # internal notes, for cases without their own
    solutions: tuple[str, ...] = ()  # the resolving reply, for cases without their own


@dataclass(frozen=True)
class Category:
    """A kind of request: where it goes, how severe it tends to be, and what is said."""

    key: str
    route: str  # TeamSpec.key of the owning team; "desk" = the Service Desk of the language
    weight: int  # how common it is
    impacts: tuple[int, ...]
    urgencies: tuple[int, ...]
    channels: tuple[str, ...]
    escalate: float  # chance that it climbs the chain (tier teams only)
    via_desk: float = 0.0  # chance that it arrives at the Service Desk and is handed over
    technical: bool = False  # a fault that can come back (follow-ups and reopens say so)
    internal: bool = False  # raised by a system: no customer to talk to
    texts: tuple[tuple[str, Texts], ...] = ()

    def for_lang(self, lang: str) -> Texts:
        found = dict(self.texts)
        return found.get(lang) or found["en"]


C = Ticket.Channel
IMP, URG = Impact, Urgency

CATEGORIES: tuple[Category, ...] = (
    Category(
        "outage",
        "desk",
        6,
        (IMP.EXTENSIVE, IMP.EXTENSIVE, IMP.SIGNIFICANT),
        (URG.CRITICAL, URG.CRITICAL, URG.HIGH),
        (C.PHONE, C.EMAIL, C.CHAT),
        escalate=0.8,
        technical=True,
        texts=(
            (
                "de",
                Texts(
                    cases=(
                        Case(
                            "{product} seit {since} nicht erreichbar",
                            "Guten Tag,\n\nseit {since} ist das {product} für unsere "
                            "Mitarbeitenden nicht mehr erreichbar. Nach etwa 30 Sekunden "
                            "erscheint die Meldung „{error}“. Betroffen sind alle {count} "
                            "Arbeitsplätze, auch über das Mobilfunknetz. Unser Tagesgeschäft "
                            "steht damit still.\n\nBitte melden Sie sich umgehend.\n\n"
                            "{contact}\n{customer}",
                        ),
                        Case(
                            "Totalausfall: {product} zeigt nur noch „{error}“",
                            "Guten Tag,\n\nseit {since} zeigt das {product} bei jedem Aufruf "
                            "nur noch „{error}“. Betroffen sind alle {count} Arbeitsplätze. "
                            "Bitte melden Sie sich umgehend.\n\n{contact}\n{customer}",
                        ),
                        Case(
                            "DRINGEND: {product} down, ganzer Standort steht",
                            "Hallo Support,\n\nunser Lager kann seit {since} keine Aufträge "
                            "mehr buchen, das {product} zeigt nur „{error}“. Browser-Cache "
                            "geleert, verschiedene Rechner probiert – ohne Erfolg. Bitte um "
                            "schnellstmögliche Rückmeldung, die LKW warten.\n\nGruß\n{contact}",
                        ),
                    ),
                    asks=(
                        "können Sie uns bitte die genaue Uhrzeit des ersten Auftretens und einen "
                        "Screenshot der Fehlermeldung schicken? Hilfreich wäre außerdem, ob auch "
                        "die mobile App betroffen ist.",
                    ),
                    answers=(
                        "Erster Fehler um {time} Uhr, Screenshot anbei. Die App ist ebenfalls "
                        "betroffen.",
                    ),
                    notes=(
                        "Monitoring bestätigt erhöhte 5xx-Rate auf {host}. Betrieb ist informiert.",
                        "Mehrere gleichlautende Meldungen anderer Kunden – vermutlich Major "
                        "Incident. Tickets verknüpft.",
                    ),
                    solutions=(
                        "die Störung ist behoben. Ursache war ein fehlerhaft ausgerolltes "
                        "Zertifikat auf einem Load-Balancer nach dem Wartungsfenster. Seit "
                        "{time} Uhr läuft das {product} wieder stabil. Einen Abschlussbericht "
                        "mit Ursache, Auswirkung und Präventivmaßnahmen erhalten Sie in den "
                        "nächsten Tagen.\n\nWir entschuldigen uns für die Unannehmlichkeiten.",
                    ),
                ),
            ),
            (
                "en",
                Texts(
                    cases=(
                        Case(
                            "{product} down since {since}",
                            "Hello,\n\nsince {since} none of our {count} users can reach the "
                            "{product}. Every request ends with “{error}” after about 30 "
                            "seconds. We tried different networks and browsers. This is "
                            "blocking our entire operation, please treat it as top priority."
                            "\n\n{contact}\n{customer}",
                        ),
                        Case(
                            "URGENT: all users getting “{error}” on the {product}",
                            "Hi team,\n\nour monitoring shows the {product} returning {error} "
                            "for every request since {since}. Our customers can't place "
                            "orders. Is there a known incident? Please call me back asap.\n\n"
                            "Thanks,\n{contact}",
                        ),
                        Case(
                            "Complete outage of the {product} – operations halted",
                            "Hello,\n\nthe {product} has been completely unavailable since "
                            "{since}; all {count} users see “{error}”. Our warehouse has "
                            "stopped. Please escalate this immediately.\n\n{contact}\n{customer}",
                        ),
                    ),
                    asks=(
                        "could you please send us the exact time you first saw the error and a "
                        "screenshot? It would also help to know whether the mobile app is "
                        "affected too.",
                    ),
                    answers=("First error at {time}, screenshot attached. The app is down too.",),
                    notes=(
                        "Monitoring confirms an elevated 5xx rate on {host}; ops has been paged.",
                        "Several customers report the same – looks like a major incident, "
                        "tickets linked.",
                    ),
                    solutions=(
                        "the incident is resolved. Root cause was a failed database failover on "
                        "{host} that left the application read-only. Service has been fully "
                        "restored since {time}. You will receive a post-incident report with "
                        "root cause, impact and preventive measures within the next few days."
                        "\n\nWe apologise for the disruption.",
                    ),
                ),
            ),
        ),
    ),
    Category(
        "login",
        "desk",
        10,
        (IMP.MODERATE,),
        (URG.HIGH, URG.MEDIUM),
        (C.EMAIL, C.WEB, C.CHAT, C.PHONE),
        escalate=0.15,
        technical=True,
        texts=(
            (
                "de",
                Texts(
                    cases=(
                        Case(
                            "Login nicht möglich – „Benutzername oder Passwort falsch“",
                            "Guten Tag,\n\nich kann mich seit {since} nicht mehr im {product} "
                            "anmelden. Es kommt immer „Benutzername oder Passwort falsch“, "
                            "obwohl ich das Passwort erst letzte Woche geändert habe. Ich muss "
                            "heute noch Bestellungen freigeben – bitte helfen Sie mir.\n\nMit "
                            "freundlichen Grüßen\n{contact}",
                        ),
                        Case(
                            "Zwei-Faktor-Code wird nicht akzeptiert",
                            "Hallo,\n\nseit dem Wechsel auf mein neues Smartphone wird mein "
                            "Zwei-Faktor-Code nicht mehr akzeptiert. Die Authenticator-App "
                            "zeigt Codes an, aber das {product} meldet „Code ungültig“. Wie "
                            "kann ich die Zwei-Faktor-Anmeldung zurücksetzen?\n\n{contact}",
                        ),
                        Case(
                            "Konto nach mehreren Fehlversuchen gesperrt",
                            "Guten Tag,\n\nnach ein paar Tippfehlern beim Passwort ist mein "
                            "Konto im {product} gesperrt. Können Sie es bitte wieder "
                            "freischalten?\n\n{contact}",
                        ),
                    ),
                    asks=(
                        "damit wir Ihr Konto prüfen können: Unter welcher E-Mail-Adresse sind "
                        "Sie registriert, und wann haben Sie es zuletzt versucht?",
                    ),
                    answers=(
                        "Registriert bin ich mit meiner Firmenadresse, letzter Versuch heute um "
                        "{time} Uhr.",
                    ),
                    notes=(
                        "Konto nach 10 Fehlversuchen automatisch gesperrt (Brute-Force-Schutz). "
                        "Entsperrt.",
                        "SSO-Zuordnung zeigt noch die alte E-Mail-Adresse – korrigiert.",
                    ),
                    solutions=(
                        "wir haben Ihr Konto entsperrt und die Anmeldung zurückgesetzt. Bitte "
                        "melden Sie sich neu an (und richten Sie ggf. die Authenticator-App "
                        "erneut ein). Falls es wieder nicht klappt, antworten Sie einfach auf "
                        "diese Nachricht.",
                    ),
                ),
            ),
            (
                "en",
                Texts(
                    cases=(
                        Case(
                            "Can't log in – “invalid username or password”",
                            "Hello,\n\nsince {since} I can't log in to the {product}. I keep "
                            "getting “invalid username or password” although I changed my "
                            "password only last week. I need to approve orders today – please "
                            "help.\n\nBest regards,\n{contact}",
                        ),
                        Case(
                            "2FA code rejected after switching phones",
                            "Hi,\n\nafter moving to a new phone my two-factor code is no "
                            "longer accepted. The authenticator app shows codes, but the "
                            "{product} says “invalid code”. How can I reset two-factor "
                            "authentication?\n\n{contact}",
                        ),
                        Case(
                            "Account locked after failed login attempts",
                            "Hello,\n\nafter a few typos in my password my {product} account is "
                            "locked. Could you unlock it, please?\n\n{contact}",
                        ),
                    ),
                    asks=(
                        "so that we can check your account: which email address are you "
                        "registered with, and when did you last try?",
                    ),
                    answers=("I'm registered with my work address, last attempt today at {time}.",),
                    notes=(
                        "Account auto-locked after 10 failed attempts (brute-force protection). "
                        "Unlocked.",
                        "SSO mapping still pointed at the old email address – fixed.",
                    ),
                    solutions=(
                        "we've unlocked your account and reset your sign-in. Please log in "
                        "again (and set up your authenticator app once more if asked). If it "
                        "still doesn't work, just reply to this message.",
                    ),
                ),
            ),
        ),
    ),
    Category(
        "email",
        "desk",
        5,
        (IMP.MODERATE, IMP.MINOR),
        (URG.MEDIUM, URG.LOW),
        (C.EMAIL, C.WEB),
        escalate=0.25,
        technical=True,
        texts=(
            (
                "de",
                Texts(
                    cases=(
                        Case(
                            "Keine Benachrichtigungs-E-Mails mehr seit {since}",
                            "Hallo,\n\nseit {since} erhalten wir keine E-Mail-"
                            "Benachrichtigungen mehr über neue Bestellungen aus dem {product}. "
                            "Im Spam-Ordner ist auch nichts. Die Einstellungen haben wir nicht "
                            "verändert.\n\n{contact}",
                        ),
                        Case(
                            "Passwort-Reset-Mail kommt nicht an",
                            "Guten Tag,\n\nich habe jetzt dreimal „Passwort vergessen“ "
                            "angeklickt, aber die E-Mail kommt einfach nicht an. Meine Adresse "
                            "ist korrekt hinterlegt.\n\nGruß\n{contact}",
                        ),
                    ),
                    asks=(
                        "könnten Sie bitte prüfen, ob Ihr Mailserver E-Mails von "
                        "noreply@helpdesk.example annimmt, und uns ggf. die Bounce-Meldung "
                        "weiterleiten?",
                    ),
                    answers=("Unsere IT sagt, die Mails werden vom Spamfilter abgelehnt.",),
                    notes=(
                        "Zustellprotokoll: 550 5.7.1 rejected by policy – Empfängerserver lehnt "
                        "ab. DKIM geprüft, ok.",
                        "Adresse stand nach einem Bounce auf unserer Sperrliste – entfernt.",
                    ),
                    solutions=(
                        "Ihre Adresse stand nach einer zurückgewiesenen Mail auf unserer "
                        "Sperrliste. Wir haben sie entfernt; E-Mails werden wieder zugestellt. "
                        "Bitte nehmen Sie noreply@helpdesk.example in Ihre Positivliste auf.",
                    ),
                ),
            ),
            (
                "en",
                Texts(
                    cases=(
                        Case(
                            "Notification emails stopped since {since}",
                            "Hi,\n\nsince {since} we no longer get email notifications about "
                            "new orders from the {product}. Nothing in spam either, and we "
                            "haven't changed any settings.\n\n{contact}",
                        ),
                        Case(
                            "Password reset email never arrives",
                            "Hello,\n\nI've clicked “forgot password” three times now, but the "
                            "email never arrives. My address is correct in my profile.\n\n"
                            "Thanks,\n{contact}",
                        ),
                    ),
                    asks=(
                        "could you check whether your mail server accepts mail from "
                        "noreply@helpdesk.example, and forward us any bounce message?",
                    ),
                    answers=("Our IT says the messages are rejected by the spam filter.",),
                    notes=(
                        "Delivery log: 550 5.7.1 rejected by policy – recipient server refuses. "
                        "DKIM checked, fine.",
                        "Address was on our suppression list after a bounce – removed.",
                    ),
                    solutions=(
                        "your address had landed on our suppression list after a bounced "
                        "message. We've removed it and emails are being delivered again. "
                        "Please allow-list noreply@helpdesk.example.",
                    ),
                ),
            ),
        ),
    ),
    Category(
        "invoice",
        "billing",
        8,
        (IMP.MODERATE, IMP.MINOR),
        (URG.MEDIUM,),
        (C.EMAIL, C.WEB),
        escalate=0.0,
        via_desk=0.5,
        texts=(
            (
                "de",
                Texts(
                    cases=(
                        Case(
                            "Rechnung {invoice} doppelt abgebucht",
                            "Sehr geehrte Damen und Herren,\n\nlaut Kontoauszug wurde der "
                            "Betrag von {amount} für die Rechnung {invoice} zweimal per "
                            "Lastschrift eingezogen. Bitte erstatten Sie den doppelt "
                            "eingezogenen Betrag und bestätigen Sie uns das kurz schriftlich."
                            "\n\nMit freundlichen Grüßen\n{contact}\nBuchhaltung, {customer}",
                            notes=(
                                "Zahlungsdienstleister bestätigt doppelte Lastschrift durch "
                                "Retry nach Timeout. Erstattung angewiesen.",
                            ),
                            solutions=(
                                "wir haben den doppelt eingezogenen Betrag von {amount} "
                                "erstattet; die Gutschrift sollte in 3–5 Bankarbeitstagen auf "
                                "Ihrem Konto sein. Entschuldigen Sie bitte den Fehler.",
                            ),
                        ),
                        Case(
                            "Falscher Mehrwertsteuersatz auf Rechnung {invoice}",
                            "Guten Tag,\n\nauf der Rechnung {invoice} wurden 19 % "
                            "Umsatzsteuer berechnet, obwohl unsere USt-IdNr. hinterlegt ist "
                            "(innergemeinschaftliche Leistung, Reverse Charge). Bitte stellen "
                            "Sie die Rechnung korrigiert neu aus.\n\n{contact}",
                            notes=(
                                "USt-IdNr. fehlte im Kundenstamm – nachgetragen, "
                                "Rechnungskorrektur erstellt.",
                            ),
                            solutions=(
                                "die korrigierte Rechnung ohne Umsatzsteuer (Reverse Charge) "
                                "finden Sie ab sofort im Kundenportal unter „Rechnungen“. Die "
                                "ursprüngliche Rechnung haben wir storniert.",
                            ),
                        ),
                        Case(
                            "Gutschrift für gekündigtes Zusatzmodul fehlt",
                            "Hallo,\n\nwir haben das Zusatzmodul „Berichte Plus“ zum Monatsende "
                            "gekündigt, auf der Rechnung {invoice} wird es aber weiter mit "
                            "{amount} berechnet. Bitte schreiben Sie uns den Betrag gut.\n\n"
                            "{contact}\n{customer}",
                            notes=(
                                "Kündigung lag vor, wurde aber im Abrechnungssystem nicht "
                                "verbucht. Gutschrift erstellt.",
                            ),
                            solutions=(
                                "Sie haben recht, die Kündigung wurde bei uns nicht rechtzeitig "
                                "verbucht. Die Gutschrift über {amount} finden Sie im "
                                "Kundenportal; sie wird mit der nächsten Rechnung verrechnet.",
                            ),
                        ),
                    ),
                    asks=(
                        "könnten Sie uns bitte Datum und Betrag der betreffenden Buchungen "
                        "nennen? Dann können wir die Zahlungen eindeutig zuordnen.",
                    ),
                    answers=("Die Buchungen sind vom {date} über je {amount}, Auszug anbei.",),
                ),
            ),
            (
                "en",
                Texts(
                    cases=(
                        Case(
                            "Invoice {invoice} charged twice",
                            "Hello,\n\nour bank statement shows {amount} for invoice {invoice} "
                            "debited twice. Please refund the duplicate payment and confirm in "
                            "writing.\n\nKind regards,\n{contact}\nAccounts payable, {customer}",
                            notes=(
                                "Payment provider confirms a duplicate debit caused by a retry "
                                "after a timeout. Refund issued.",
                            ),
                            solutions=(
                                "we've refunded the duplicate payment of {amount}; it should "
                                "reach your account within 3–5 business days. Sorry for the "
                                "trouble.",
                            ),
                        ),
                        Case(
                            "Wrong VAT on invoice {invoice}",
                            "Hi,\n\ninvoice {invoice} charges 20 % VAT although our VAT number "
                            "is on file (reverse charge applies). Could you please reissue a "
                            "corrected invoice?\n\n{contact}",
                            notes=(
                                "VAT number was missing from the account – added, corrected "
                                "invoice issued.",
                            ),
                            solutions=(
                                "the corrected invoice (reverse charge, no VAT) is now in the "
                                "customer portal under “Invoices”; the original has been "
                                "cancelled.",
                            ),
                        ),
                        Case(
                            "Credit note missing for cancelled add-on",
                            "Hello,\n\nwe cancelled the “Reports Plus” add-on at the end of last "
                            "month, but invoice {invoice} still charges {amount} for it. Please "
                            "credit the amount.\n\n{contact}\n{customer}",
                            notes=(
                                "Cancellation was received but never booked in billing. Credit "
                                "note created.",
                            ),
                            solutions=(
                                "you're right – your cancellation wasn't booked in time. The "
                                "credit note for {amount} is in the customer portal and will be "
                                "offset against your next invoice.",
                            ),
                        ),
                    ),
                    asks=(
                        "could you send us the date and amount of the debits in question? Then "
                        "we can match the payments without doubt.",
                    ),
                    answers=("The debits are from {date}, {amount} each – statement attached.",),
                ),
            ),
        ),
    ),
    Category(
        "contract",
        "billing",
        3,
        (IMP.MINOR,),
        (URG.LOW, URG.MEDIUM),
        (C.EMAIL, C.PHONE),
        escalate=0.0,
        via_desk=0.4,
        texts=(
            (
                "de",
                Texts(
                    cases=(
                        Case(
                            "Upgrade auf Enterprise-Vertrag gewünscht",
                            "Guten Tag,\n\nwir wachsen und möchten vom aktuellen Vertrag auf "
                            "den Enterprise-Tarif mit 24/7-Support wechseln. Bitte schicken Sie "
                            "uns ein Angebot für {count} Benutzer.\n\n{contact}\n{customer}",
                            notes=("Angebot mit 15 % Mengenrabatt vom Vertrieb freigegeben.",),
                            solutions=(
                                "anbei erhalten Sie unser Angebot für den Enterprise-Tarif mit "
                                "{count} Benutzern. Ihre Ansprechpartnerin im Vertrieb erreichen "
                                "Sie direkt unter vertrieb@helpdesk.example.",
                            ),
                        ),
                        Case(
                            "Kündigung zum Ende der Vertragslaufzeit",
                            "Sehr geehrte Damen und Herren,\n\nhiermit kündigen wir unseren "
                            "Vertrag fristgerecht zum Ende der Laufzeit. Bitte bestätigen Sie "
                            "uns die Kündigung und das Vertragsende schriftlich.\n\n{contact}",
                            notes=(
                                "Account Management informiert – Rückgewinnungsangebot wird "
                                "vorbereitet.",
                            ),
                            solutions=(
                                "hiermit bestätigen wir Ihre Kündigung zum Ende der "
                                "Vertragslaufzeit am {date}. Schade, dass Sie gehen – falls wir "
                                "etwas besser machen können, sagen Sie es uns gern.",
                            ),
                        ),
                    ),
                    asks=("bitte nennen Sie uns Ihre Kunden- oder Vertragsnummer.",),
                    answers=("Unsere Kundennummer lautet {order}.",),
                ),
            ),
            (
                "en",
                Texts(
                    cases=(
                        Case(
                            "Upgrade to the Enterprise plan",
                            "Hi,\n\nwe're growing and would like to move to the Enterprise "
                            "plan with 24/7 support. Could you send us a quote for {count} "
                            "users?\n\n{contact}\n{customer}",
                            notes=("Quote with 15 % volume discount approved by sales.",),
                            solutions=(
                                "please find attached our quote for the Enterprise plan with "
                                "{count} users. Your account manager is available at "
                                "sales@helpdesk.example.",
                            ),
                        ),
                        Case(
                            "Cancellation at end of term",
                            "Hello,\n\nwe hereby cancel our contract at the end of the current "
                            "term. Please confirm the cancellation and the end date in "
                            "writing.\n\n{contact}",
                            notes=("Account management informed – preparing a retention offer.",),
                            solutions=(
                                "we confirm the cancellation of your contract at the end of the "
                                "term on {date}. Sorry to see you go – if there is anything we "
                                "could do better, please tell us.",
                            ),
                        ),
                    ),
                    asks=("could you tell us your customer or contract number?",),
                    answers=("Our customer number is {order}.",),
                ),
            ),
        ),
    ),
    Category(
        "returns",
        "returns",
        7,
        (IMP.MINOR,),
        (URG.MEDIUM, URG.LOW),
        (C.EMAIL, C.WEB, C.PHONE),
        escalate=0.0,
        via_desk=0.4,
        texts=(
            (
                "de",
                Texts(
                    cases=(
                        Case(
                            "Retoure für Bestellung {order}",
                            "Hallo,\n\nich möchte aus der Bestellung {order} den {device} "
                            "zurückschicken, er passt leider nicht zu unserem System. Die Ware "
                            "ist originalverpackt. Können Sie mir bitte ein Rücksendeetikett "
                            "schicken?\n\nDanke und Gruß\n{contact}",
                            solutions=(
                                "Ihr Rücksendeetikett liegt bei. Sobald die Ware bei uns "
                                "eingegangen und geprüft ist, erstatten wir {amount} auf das "
                                "ursprüngliche Zahlungsmittel.",
                            ),
                        ),
                        Case(
                            "Falscher Artikel geliefert ({order})",
                            "Guten Tag,\n\nstatt des bestellten {device} war im Paket zur "
                            "Bestellung {order} ein ganz anderer Artikel. Wie bekomme ich das "
                            "richtige Gerät, und was mache ich mit dem falschen?\n\n{contact}",
                            solutions=(
                                "entschuldigen Sie die Verwechslung. Der richtige {device} ist "
                                "heute an Sie rausgegangen; für den falschen Artikel liegt ein "
                                "kostenloses Rücksendeetikett bei.",
                            ),
                        ),
                    ),
                    asks=(
                        "bitte schicken Sie uns ein Foto des Artikels und des Versandetiketts, "
                        "damit wir die Sendung zuordnen können.",
                    ),
                    answers=("Fotos anbei, das Etikett trägt die Bestellnummer {order}.",),
                    notes=(
                        "Lagerbestand geprüft: Ersatzartikel verfügbar, Reservierung angelegt.",
                        "Retourenlabel über das Versandportal erzeugt.",
                    ),
                ),
            ),
            (
                "en",
                Texts(
                    cases=(
                        Case(
                            "Return for order {order}",
                            "Hi,\n\nI'd like to return the {device} from order {order}; "
                            "unfortunately it doesn't fit our setup. It's still in its original "
                            "packaging. Could you send me a return label?\n\nThanks,\n{contact}",
                            solutions=(
                                "your return label is attached. Once the item has arrived and "
                                "been checked, we'll refund {amount} to your original payment "
                                "method.",
                            ),
                        ),
                        Case(
                            "Wrong item delivered ({order})",
                            "Hello,\n\ninstead of the {device} I ordered, the parcel for order "
                            "{order} contained a completely different item. How do I get the "
                            "right one, and what should I do with the wrong one?\n\n{contact}",
                            solutions=(
                                "sorry for the mix-up. The correct {device} was shipped today; "
                                "a free return label for the wrong item is enclosed.",
                            ),
                        ),
                    ),
                    asks=(
                        "please send us a photo of the item and of the shipping label so that "
                        "we can match the parcel.",
                    ),
                    answers=("Photos attached, the label shows order number {order}.",),
                    notes=(
                        "Stock checked: replacement available and reserved.",
                        "Return label generated in the carrier portal.",
                    ),
                ),
            ),
        ),
    ),
    Category(
        "warranty",
        "returns",
        5,
        (IMP.MODERATE, IMP.MINOR),
        (URG.MEDIUM,),
        (C.EMAIL, C.PHONE, C.WEB),
        escalate=0.0,
        via_desk=0.5,
        technical=True,
        texts=(
            (
                "de",
                Texts(
                    cases=(
                        Case(
                            "Garantiefall: {device} nach 8 Monaten defekt",
                            "Guten Tag,\n\nunser {device} (Seriennummer {serial}) schaltet "
                            "sich seit einigen Tagen nach wenigen Minuten ab. Gekauft haben wir "
                            "das Gerät vor acht Monaten, es ist also noch in der Garantie. Wie "
                            "gehen wir vor?\n\n{contact}\n{customer}",
                            solutions=(
                                "wir haben den Garantiefall anerkannt. Ein Austauschgerät ist "
                                "heute an Sie rausgegangen; bitte senden Sie das defekte Gerät "
                                "mit dem beiliegenden Etikett innerhalb von 14 Tagen zurück.",
                            ),
                        ),
                        Case(
                            "Reparaturstatus Seriennummer {serial}",
                            "Hallo,\n\nwir haben den {device} mit der Seriennummer {serial} "
                            "vor drei Wochen zur Reparatur eingeschickt und seitdem nichts mehr "
                            "gehört. Wie ist der Stand?\n\n{contact}",
                            solutions=(
                                "Ihr {device} ist repariert (Netzteil getauscht) und heute an "
                                "Sie zurückgegangen. Die Sendungsnummer erhalten Sie per "
                                "separater E-Mail.",
                            ),
                        ),
                    ),
                    asks=(
                        "bitte schicken Sie uns eine Kopie der Rechnung und ein kurzes Video des "
                        "Fehlerbildes.",
                    ),
                    answers=("Rechnung und Video sind angehängt.",),
                    notes=(
                        "Fehlerbild bekannt (Netzteil-Charge 2025/Q3). Austausch freigegeben.",
                        "Kulanz: Garantie knapp überschritten, Teamleitung hat den Austausch "
                        "genehmigt.",
                    ),
                ),
            ),
            (
                "en",
                Texts(
                    cases=(
                        Case(
                            "Warranty claim: {device} failed after 8 months",
                            "Hello,\n\nour {device} (serial {serial}) has been switching "
                            "itself off after a few minutes for several days now. We bought it "
                            "eight months ago, so it's still under warranty. How do we proceed?"
                            "\n\n{contact}\n{customer}",
                            solutions=(
                                "we've accepted the warranty claim. A replacement unit was "
                                "shipped today; please send the faulty one back with the "
                                "enclosed label within 14 days.",
                            ),
                        ),
                        Case(
                            "Repair status for serial number {serial}",
                            "Hi,\n\nwe sent in our {device} (serial {serial}) for repair three "
                            "weeks ago and haven't heard anything since. What's the status?\n\n"
                            "{contact}",
                            solutions=(
                                "your {device} has been repaired (power supply replaced) and "
                                "shipped back today. You'll get the tracking number in a "
                                "separate email.",
                            ),
                        ),
                    ),
                    asks=(
                        "please send us a copy of the invoice and a short video showing the fault.",
                    ),
                    answers=("Invoice and video are attached.",),
                    notes=(
                        "Known fault (power supply batch 2025/Q3). Replacement approved.",
                        "Goodwill: warranty just expired, team lead approved the replacement.",
                    ),
                ),
            ),
        ),
    ),
    Category(
        "gdpr",
        "security",
        4,
        (IMP.MODERATE,),
        (URG.HIGH,),
        (C.EMAIL, C.WEB),
        escalate=0.0,
        via_desk=0.5,
        texts=(
            (
                "de",
                Texts(
                    cases=(
                        Case(
                            "Auskunftsersuchen nach Art. 15 DSGVO",
                            "Sehr geehrte Damen und Herren,\n\nhiermit verlange ich gemäß "
                            "Art. 15 DSGVO Auskunft darüber, welche personenbezogenen Daten Sie "
                            "über mich speichern, zu welchem Zweck und an wen Sie diese "
                            "weitergegeben haben. Bitte beachten Sie die gesetzliche Frist von "
                            "einem Monat.\n\nMit freundlichen Grüßen\n{contact}",
                            notes=(
                                "Identität bestätigt. Frist: ein Monat ab Eingang. Datenexport "
                                "beim Datenbank-Team angefordert.",
                            ),
                            solutions=(
                                "anbei erhalten Sie die Auskunft über die zu Ihrer Person "
                                "gespeicherten Daten einschließlich Verarbeitungszwecken und "
                                "Empfängern. Für Rückfragen steht Ihnen unser "
                                "Datenschutzbeauftragter unter datenschutz@helpdesk.example zur "
                                "Verfügung.",
                            ),
                        ),
                        Case(
                            "Antrag auf Löschung meiner personenbezogenen Daten",
                            "Guten Tag,\n\nich bitte um Löschung sämtlicher zu meiner Person "
                            "gespeicherten Daten nach Art. 17 DSGVO, soweit keine gesetzlichen "
                            "Aufbewahrungsfristen entgegenstehen, und um eine Bestätigung.\n\n"
                            "{contact}",
                            notes=(
                                "Datenschutzbeauftragte in Kopie. Rechnungsdaten unterliegen der "
                                "Aufbewahrungspflicht (10 Jahre) – nur sperren, nicht löschen.",
                            ),
                            solutions=(
                                "wir haben Ihre personenbezogenen Daten gelöscht. Rechnungsdaten, "
                                "die wir gesetzlich aufbewahren müssen, sind bis zum Ablauf der "
                                "Frist gesperrt und werden danach automatisch gelöscht.",
                            ),
                        ),
                    ),
                    asks=(
                        "zur Bestätigung Ihrer Identität bitten wir Sie, uns von der bei uns "
                        "hinterlegten E-Mail-Adresse aus zu antworten oder Ihre Kundennummer zu "
                        "nennen.",
                    ),
                    answers=(
                        "Ich schreibe von meiner registrierten Adresse, Kundennummer {order}.",
                    ),
                ),
            ),
            (
                "en",
                Texts(
                    cases=(
                        Case(
                            "Subject access request under GDPR Art. 15",
                            "Dear Sir or Madam,\n\nunder Article 15 GDPR I request access to "
                            "the personal data you hold about me, the purposes of processing "
                            "and the recipients it was disclosed to. Please note the one-month "
                            "deadline.\n\nYours faithfully,\n{contact}",
                            notes=(
                                "Identity confirmed. Deadline: one month from receipt. Data "
                                "export requested from the database team.",
                            ),
                            solutions=(
                                "please find attached the information about the personal data "
                                "we hold about you, including purposes and recipients. Our data "
                                "protection officer is available at privacy@helpdesk.example.",
                            ),
                        ),
                        Case(
                            "Request to erase my personal data",
                            "Hello,\n\nplease erase all personal data you hold about me under "
                            "Article 17 GDPR, unless you are legally required to keep it, and "
                            "confirm once done.\n\n{contact}",
                            notes=(
                                "DPO in copy. Invoices are subject to statutory retention – "
                                "restrict, don't delete.",
                            ),
                            solutions=(
                                "we've erased your personal data. Invoice records we are legally "
                                "required to keep are restricted until the retention period ends "
                                "and will then be deleted automatically.",
                            ),
                        ),
                    ),
                    asks=(
                        "to confirm your identity, please reply from the email address we have "
                        "on file or tell us your customer number.",
                    ),
                    answers=("I'm writing from my registered address, customer number {order}.",),
                ),
            ),
        ),
    ),
    Category(
        "security",
        "security",
        3,
        (IMP.SIGNIFICANT, IMP.MODERATE),
        (URG.CRITICAL, URG.HIGH),
        (C.EMAIL, C.PHONE),
        escalate=0.0,
        via_desk=0.3,
        texts=(
            (
                "de",
                Texts(
                    cases=(
                        Case(
                            "Verdächtige Anmeldungen aus unbekannten Netzen",
                            "Hallo,\n\nin unserem Audit-Log sehen wir seit {since} mehrere "
                            "erfolgreiche Anmeldungen auf das Admin-Konto aus IP-Bereichen, die "
                            "wir nicht zuordnen können. Das Passwort haben wir bereits "
                            "geändert. Bitte prüfen Sie dringend, ob Ihnen Auffälligkeiten "
                            "vorliegen.\n\n{contact}\nIT-Sicherheit, {customer}",
                            notes=(
                                "IP-Adressen gehören zu einem bekannten Botnetz. Sitzungen "
                                "invalidiert, Rate-Limit verschärft.",
                            ),
                            solutions=(
                                "wir haben alle aktiven Sitzungen des Kontos beendet und die "
                                "Zugriffsprotokolle ausgewertet. Es gibt keine Hinweise auf "
                                "einen Datenabfluss. Bitte aktivieren Sie die "
                                "Zwei-Faktor-Anmeldung für alle Administratorkonten.",
                            ),
                        ),
                        Case(
                            "API-Schlüssel versehentlich in öffentlichem Repository",
                            "Guten Tag,\n\nein Entwickler hat heute versehentlich einen "
                            "produktiven API-Schlüssel in ein öffentliches Git-Repository "
                            "gepusht. Der Commit ist gelöscht, aber der Schlüssel war ca. 40 "
                            "Minuten sichtbar. Bitte sperren Sie ihn sofort.\n\n{contact}",
                            notes=(
                                "Schlüssel widerrufen und neu ausgestellt; Zugriffe der letzten "
                                "72 h geprüft – kein Missbrauch.",
                            ),
                            solutions=(
                                "der Schlüssel ist widerrufen, einen neuen finden Sie im "
                                "Kundenportal unter „API-Zugänge“. In den Zugriffsprotokollen "
                                "gibt es keine Hinweise auf eine missbräuchliche Nutzung.",
                            ),
                        ),
                    ),
                    asks=(
                        "bitte senden Sie uns einen Export des Audit-Logs für den betroffenen "
                        "Zeitraum.",
                    ),
                    answers=("Export des Audit-Logs anbei.",),
                ),
            ),
            (
                "en",
                Texts(
                    cases=(
                        Case(
                            "Suspicious logins from unknown networks",
                            "Hi,\n\nour audit log shows several successful logins to the admin "
                            "account since {since} from IP ranges we don't recognise. We've "
                            "already changed the password. Please check urgently whether you "
                            "see anything unusual.\n\n{contact}\nIT Security, {customer}",
                            notes=(
                                "IPs belong to a known botnet. Sessions invalidated, rate limit "
                                "tightened.",
                            ),
                            solutions=(
                                "we've ended all active sessions of the account and reviewed "
                                "the access logs. There is no sign of data exfiltration. Please "
                                "enable two-factor authentication for all admin accounts.",
                            ),
                        ),
                        Case(
                            "API key accidentally pushed to a public repository",
                            "Hello,\n\none of our developers accidentally pushed a production "
                            "API key to a public Git repository today. The commit is gone, but "
                            "the key was visible for about 40 minutes. Please revoke it "
                            "immediately.\n\n{contact}",
                            notes=(
                                "Key revoked and reissued; access of the last 72 h reviewed – "
                                "no misuse.",
                            ),
                            solutions=(
                                "the key is revoked; you'll find a new one in the customer "
                                "portal under “API access”. The access logs show no sign of "
                                "misuse.",
                            ),
                        ),
                    ),
                    asks=("please send us an export of the audit log for the period in question.",),
                    answers=("Audit log export attached.",),
                ),
            ),
        ),
    ),
    Category(
        "api",
        "desk",
        7,
        (IMP.SIGNIFICANT, IMP.MODERATE),
        (URG.HIGH, URG.MEDIUM),
        (C.EMAIL, C.API, C.WEB),
        escalate=0.6,
        technical=True,
        texts=(
            (
                "de",
                Texts(
                    cases=(
                        Case(
                            "API liefert {error} bei {endpoint}",
                            "Hallo Support,\n\nseit {since} liefert {endpoint} bei etwa jedem "
                            "dritten Aufruf „{error}“. Request-IDs aus unseren Logs: "
                            "req_7f3a91c2, req_1b88e04d. An unserer Integration haben wir "
                            "nichts geändert. Können Sie sich das bitte ansehen?\n\nDanke\n"
                            "{contact}\nEntwicklung, {customer}",
                            notes=(
                                "Reproduzierbar: Timeout im Order-Service bei Payloads > 1 MB. "
                                "Entwicklungsticket DEV-4821 verlinkt.",
                            ),
                            solutions=(
                                "der Fehler ist mit dem heutigen Release behoben: Anfragen an "
                                "{endpoint} mit großen Payloads werden wieder korrekt "
                                "verarbeitet. Bitte prüfen Sie es auf Ihrer Seite.",
                            ),
                        ),
                        Case(
                            "Webhook-Zustellungen schlagen mit 401 fehl",
                            "Guten Tag,\n\nunsere Webhook-Empfänger bekommen seit {since} nur "
                            "noch Zustellungen mit ungültiger Signatur, wir antworten deshalb "
                            "mit 401. Hat sich am Signaturverfahren etwas geändert?\n\n"
                            "{contact}",
                            notes=(
                                "Signaturprüfung nutzt seit dem letzten Release einen neuen "
                                "Header – Kunde nutzt eine alte SDK-Version.",
                            ),
                            solutions=(
                                "seit dem letzten Release signieren wir zusätzlich den "
                                "Zeitstempel (Header „X-Signature-Timestamp“). Mit SDK-Version "
                                "4.2 oder neuer klappt die Prüfung wieder; die fehlgeschlagenen "
                                "Zustellungen haben wir erneut gesendet.",
                            ),
                        ),
                    ),
                    asks=(
                        "können Sie uns bitte einen vollständigen Request (ohne Zugangsdaten) "
                        "mit Zeitstempel und Request-ID schicken? Dann können wir den Aufruf in "
                        "unseren Logs nachverfolgen.",
                    ),
                    answers=("Beispiel-Request von {time} Uhr mit Request-ID req_c41d2e77 anbei.",),
                ),
            ),
            (
                "en",
                Texts(
                    cases=(
                        Case(
                            "API returns {error} on {endpoint}",
                            "Hi support,\n\nsince {since} {endpoint} returns “{error}” on "
                            "roughly every third call. Request IDs from our logs: "
                            "req_7f3a91c2, req_1b88e04d. Nothing changed on our side. Could you "
                            "take a look?\n\nThanks,\n{contact}\nEngineering, {customer}",
                            notes=(
                                "Reproducible: order service times out for payloads > 1 MB. "
                                "Linked dev ticket DEV-4821.",
                            ),
                            solutions=(
                                "the bug is fixed with today's release: requests to {endpoint} "
                                "with large payloads are processed correctly again. Please "
                                "verify on your side.",
                            ),
                        ),
                        Case(
                            "Webhook deliveries failing with 401",
                            "Hello,\n\nsince {since} our webhook receiver only gets deliveries "
                            "with an invalid signature, so we answer 401. Did anything change "
                            "in the signing scheme?\n\n{contact}",
                            notes=(
                                "Signature check uses a new header since the last release – "
                                "customer is on an old SDK version.",
                            ),
                            solutions=(
                                "since the last release we also sign the timestamp (header "
                                "“X-Signature-Timestamp”). With SDK 4.2 or later verification "
                                "works again; we've re-sent the failed deliveries.",
                            ),
                        ),
                    ),
                    asks=(
                        "could you send us a complete request (without credentials) with its "
                        "timestamp and request ID? Then we can trace it in our logs.",
                    ),
                    answers=("Sample request from {time} with request ID req_c41d2e77 attached.",),
                ),
            ),
        ),
    ),
    Category(
        "performance",
        "desk",
        5,
        (IMP.SIGNIFICANT, IMP.MODERATE),
        (URG.HIGH, URG.MEDIUM),
        (C.EMAIL, C.PHONE, C.CHAT),
        escalate=0.45,
        technical=True,
        texts=(
            (
                "de",
                Texts(
                    cases=(
                        Case(
                            "Berichte laden seit dem Update minutenlang",
                            "Guten Tag,\n\nseit dem letzten Update braucht das Laden der "
                            "Berichtsübersicht im {product} über zwei Minuten, vorher waren es "
                            "wenige Sekunden. Betroffen sind alle {count} Kolleginnen und "
                            "Kollegen. So können wir nicht arbeiten.\n\n{contact}",
                            notes=("Langsame Abfrage gefunden: fehlender Index nach Migration.",),
                            solutions=(
                                "wir haben die Ursache gefunden – nach dem Update fehlte ein "
                                "Datenbankindex – und sie behoben. Die Berichte laden wieder in "
                                "wenigen Sekunden.",
                            ),
                        ),
                        Case(
                            "Timeouts beim Export großer Datenmengen",
                            "Hallo,\n\nder Export unserer Jahresdaten bricht jedes Mal nach "
                            "etwa fünf Minuten mit „{error}“ ab. Kleinere Zeiträume "
                            "funktionieren.\n\n{contact}\n{customer}",
                            notes=("Workaround: Export in Monatsscheiben. Kunde informiert.",),
                            solutions=(
                                "große Exporte laufen jetzt im Hintergrund; Sie erhalten eine "
                                "E-Mail mit dem Download-Link, sobald die Datei fertig ist.",
                            ),
                        ),
                    ),
                    asks=(
                        "zu welchen Uhrzeiten tritt das Problem auf, und welche Berichte bzw. "
                        "Filter verwenden Sie dabei?",
                    ),
                    answers=(
                        "Vor allem morgens zwischen 8 und 10 Uhr, Bericht „Umsatz nach "
                        "Filialen“ mit Filter „Gesamtjahr“.",
                    ),
                ),
            ),
            (
                "en",
                Texts(
                    cases=(
                        Case(
                            "Reports take minutes to load since the update",
                            "Hello,\n\nsince the last update the report overview in the "
                            "{product} takes over two minutes to load, it used to be a few "
                            "seconds. All {count} colleagues are affected. We can't work like "
                            "this.\n\n{contact}",
                            notes=("Found the slow query: missing index after migration.",),
                            solutions=(
                                "we found the cause – a database index was missing after the "
                                "update – and fixed it. Reports load within seconds again.",
                            ),
                        ),
                        Case(
                            "Timeouts when exporting large data sets",
                            "Hi,\n\nexporting our yearly data fails every time after about "
                            "five minutes with “{error}”. Shorter periods work.\n\n{contact}\n"
                            "{customer}",
                            notes=("Workaround: export month by month. Customer informed.",),
                            solutions=(
                                "large exports now run in the background; you'll get an email "
                                "with a download link as soon as the file is ready.",
                            ),
                        ),
                    ),
                    asks=(
                        "at what times do you notice the problem, and which reports or filters "
                        "are you using?",
                    ),
                    answers=(
                        "Mostly in the morning between 8 and 10, report “Revenue by store” "
                        "with the filter “Full year”.",
                    ),
                ),
            ),
        ),
    ),
    Category(
        "integration",
        "desk",
        4,
        (IMP.MODERATE,),
        (URG.MEDIUM, URG.HIGH),
        (C.EMAIL, C.WEB),
        escalate=0.5,
        technical=True,
        texts=(
            (
                "de",
                Texts(
                    cases=(
                        Case(
                            "CSV-Import bricht bei Umlauten ab",
                            "Hallo,\n\nbeim Import unserer Kundenliste (CSV, ca. 4.000 Zeilen) "
                            "bricht das {product} bei der ersten Zeile mit Umlaut ab. Die Datei "
                            "ist UTF-8-kodiert.\n\n{contact}",
                            notes=(
                                "Datei enthält BOM + Semikolon als Trenner; Parser erwartet "
                                "Komma. Reproduziert.",
                            ),
                            solutions=(
                                "der Import akzeptiert jetzt auch Dateien mit Byte-Order-Mark und "
                                "Semikolon als Trennzeichen. Bitte starten Sie den Import "
                                "erneut.",
                            ),
                        ),
                        Case(
                            "Synchronisation mit SAP hängt seit {since}",
                            "Guten Tag,\n\ndie nächtliche Synchronisation mit unserem SAP-System "
                            "läuft seit {since} nicht mehr durch. Im Protokoll steht nur "
                            "„{error}“.\n\n{contact}\n{customer}",
                            notes=("SAP-Connector: Client-Zertifikat des Kunden abgelaufen.",),
                            solutions=(
                                "Ursache war das abgelaufene Client-Zertifikat des SAP-"
                                "Connectors. Nach dem Austausch läuft die Synchronisation wieder; "
                                "die ausgefallenen Läufe haben wir nachgeholt.",
                            ),
                        ),
                    ),
                    asks=(
                        "können Sie uns die Importdatei (gern anonymisiert) bzw. das "
                        "Synchronisationsprotokoll zukommen lassen?",
                    ),
                    answers=("Datei und Protokoll hängen an.",),
                ),
            ),
            (
                "en",
                Texts(
                    cases=(
                        Case(
                            "CSV import fails on special characters",
                            "Hi,\n\nimporting our customer list (CSV, about 4,000 rows) into "
                            "the {product} stops at the first row with an accented character. "
                            "The file is UTF-8.\n\n{contact}",
                            notes=(
                                "File has a BOM and semicolons as separators; parser expects "
                                "commas. Reproduced.",
                            ),
                            solutions=(
                                "the importer now accepts files with a byte-order mark and "
                                "semicolon separators. Please run the import again.",
                            ),
                        ),
                        Case(
                            "Salesforce sync stuck since {since}",
                            "Hello,\n\nthe nightly sync with our Salesforce org hasn't "
                            "completed since {since}. The log only says “{error}”.\n\n"
                            "{contact}\n{customer}",
                            notes=("Connector: the customer's OAuth token had expired.",),
                            solutions=(
                                "the connector's OAuth token had expired. After reconnecting, "
                                "the sync runs again and we've replayed the missed runs.",
                            ),
                        ),
                    ),
                    asks=(
                        "could you send us the import file (anonymised is fine) or the sync log?",
                    ),
                    answers=("File and log attached.",),
                ),
            ),
        ),
    ),
    Category(
        "complaint",
        "complaints",
        4,
        (IMP.MODERATE,),
        (URG.HIGH, URG.MEDIUM),
        (C.EMAIL, C.PHONE),
        escalate=0.0,
        via_desk=0.4,
        texts=(
            (
                "de",
                Texts(
                    cases=(
                        Case(
                            "Beschwerde: dritter Technikertermin abgesagt",
                            "Sehr geehrte Damen und Herren,\n\nnun wurde bereits zum dritten "
                            "Mal ein zugesagter Technikertermin kurzfristig abgesagt, ohne dass "
                            "uns jemand einen neuen Termin angeboten hat. Ich erwarte eine "
                            "Erklärung und einen verbindlichen Termin, andernfalls sehen wir "
                            "uns gezwungen, den Vertrag zu kündigen.\n\n{contact}\n{customer}",
                            notes=(
                                "Rücksprache mit der Disposition: Absagen wegen Krankheit, "
                                "Ersatz nicht organisiert. Kulanzgutschrift von einer "
                                "Monatsgebühr vorgeschlagen.",
                            ),
                            solutions=(
                                "wir bedauern sehr, dass wir Sie so enttäuscht haben. Wir haben "
                                "einen festen Termin am {date} für Sie reserviert und schreiben "
                                "Ihnen als Entschuldigung eine Monatsgebühr gut.",
                            ),
                        ),
                        Case(
                            "Seit drei Wochen keine Antwort auf meine Anfrage",
                            "Guten Tag,\n\nseit drei Wochen warte ich auf eine Antwort zu "
                            "meiner Anfrage. Zweimal wurde mir ein Rückruf versprochen, passiert "
                            "ist nichts. Das ist wirklich enttäuschend.\n\n{contact}",
                            notes=(
                                "Ursprüngliche Anfrage lag unzugewiesen in der Queue. "
                                "Teamleitung informiert.",
                            ),
                            solutions=(
                                "es tut uns leid, dass Ihre Anfrage so lange liegen geblieben "
                                "ist. Sie ist inzwischen erledigt, und ab sofort ist unsere "
                                "Teamleitung Ihre persönliche Ansprechpartnerin.",
                            ),
                        ),
                    ),
                    asks=(
                        "damit wir den Vorgang vollständig aufarbeiten können: Nennen Sie uns "
                        "bitte die Daten der Termine bzw. die Nummern Ihrer früheren Anfragen.",
                    ),
                    answers=("Das war am {date} und in den beiden Wochen davor.",),
                ),
            ),
            (
                "en",
                Texts(
                    cases=(
                        Case(
                            "Complaint: third engineer appointment cancelled",
                            "Dear Sir or Madam,\n\nfor the third time now, a confirmed "
                            "engineer appointment was cancelled at short notice without anyone "
                            "offering a new date. I expect an explanation and a firm "
                            "appointment, otherwise we will have to cancel our contract.\n\n"
                            "{contact}\n{customer}",
                            notes=(
                                "Checked with dispatch: cancelled due to sickness, no "
                                "replacement organised. Proposed goodwill credit of one monthly "
                                "fee.",
                            ),
                            solutions=(
                                "we're very sorry we let you down. We've booked a firm "
                                "appointment on {date} for you and credited one monthly fee as "
                                "an apology.",
                            ),
                        ),
                        Case(
                            "No answer to my request for three weeks",
                            "Hello,\n\nI've been waiting three weeks for an answer to my "
                            "request. Twice I was promised a call back and nothing happened. "
                            "This is really disappointing.\n\n{contact}",
                            notes=(
                                "Original request sat unassigned in the queue. Team lead informed.",
                            ),
                            solutions=(
                                "we're sorry your request sat with us for so long. It has now "
                                "been dealt with, and from now on our team lead is your personal "
                                "contact.",
                            ),
                        ),
                    ),
                    asks=(
                        "so that we can look into this properly: could you give us the dates or "
                        "the numbers of your earlier requests?",
                    ),
                    answers=("That was on {date} and in the two weeks before.",),
                ),
            ),
        ),
    ),
    Category(
        "howto",
        "desk",
        8,
        (IMP.MINOR,),
        (URG.LOW, URG.MEDIUM),
        (C.EMAIL, C.WEB, C.CHAT),
        escalate=0.0,
        texts=(
            (
                "de",
                Texts(
                    cases=(
                        Case(
                            "Wie exportiere ich Berichte als CSV?",
                            "Hallo,\n\nwir möchten die Monatsberichte aus dem {product} als CSV "
                            "exportieren, um sie in Excel weiterzuverarbeiten. Ich finde die "
                            "Funktion leider nicht. Gibt es dafür eine Anleitung?\n\nViele "
                            "Grüße\n{contact}",
                            solutions=(
                                "den Export finden Sie im Bericht oben rechts unter "
                                "„Exportieren“ → „CSV (Excel)“. Eine Anleitung mit Screenshots "
                                "steht in unserer Wissensdatenbank unter „Berichte "
                                "exportieren“.",
                            ),
                        ),
                        Case(
                            "Frage: neue Benutzer anlegen und Rollen vergeben",
                            "Guten Tag,\n\nwir haben {count} neue Kolleginnen und Kollegen. Wie "
                            "lege ich Benutzer an, und welche Rolle brauchen sie, um nur "
                            "Berichte sehen zu dürfen?\n\n{contact}",
                            solutions=(
                                "neue Benutzer legen Sie unter „Verwaltung“ → „Benutzer“ an. "
                                "Für reinen Lesezugriff auf Berichte wählen Sie die Rolle "
                                "„Betrachter“. Bei vielen Benutzern hilft der CSV-Import auf "
                                "derselben Seite.",
                            ),
                        ),
                    ),
                    asks=("meinen Sie die Monatsberichte oder die Detailauswertungen?",),
                    answers=("Die Monatsberichte.",),
                    notes=("Kandidat für die Wissensdatenbank – Artikel ist veraltet.",),
                ),
            ),
            (
                "en",
                Texts(
                    cases=(
                        Case(
                            "How do I export reports as CSV?",
                            "Hi,\n\nwe'd like to export the monthly reports from the {product} "
                            "as CSV to work on them in Excel, but I can't find the option. Is "
                            "there a guide?\n\nBest,\n{contact}",
                            solutions=(
                                "you'll find the export at the top right of each report under "
                                "“Export” → “CSV (Excel)”. There's a step-by-step guide in our "
                                "knowledge base under “Exporting reports”.",
                            ),
                        ),
                        Case(
                            "Question: adding users and assigning roles",
                            "Hello,\n\nwe have {count} new colleagues. How do I add users, and "
                            "which role do they need to only view reports?\n\n{contact}",
                            solutions=(
                                "you add users under “Administration” → “Users”. For read-only "
                                "access to reports, choose the “Viewer” role. For many users at "
                                "once, use the CSV import on the same page.",
                            ),
                        ),
                    ),
                    asks=("do you mean the monthly reports or the detailed analyses?",),
                    answers=("The monthly reports.",),
                    notes=("Knowledge base candidate – the existing article is outdated.",),
                ),
            ),
        ),
    ),
    Category(
        "monitoring",
        "experts",
        3,
        (IMP.SIGNIFICANT,),
        (URG.CRITICAL, URG.HIGH),
        (C.MONITORING,),
        escalate=0.5,
        technical=True,
        internal=True,
        texts=(
            (
                "en",
                Texts(
                    cases=(
                        Case(
                            "[ALERT] p95 latency > 2s on {host}",
                            "Alert fired by Alertmanager.\n\nalertname: HighLatency\ninstance: "
                            "{host}\nseverity: critical\nsince: {since}\nrunbook: "
                            "https://runbooks.helpdesk.example/high-latency",
                            notes=(
                                "Acknowledged. Dashboards: traffic normal, GC pauses high on "
                                "{host}.",
                                "Rolled back the last deployment on {host}; latency recovering.",
                            ),
                        ),
                        Case(
                            "[ALERT] Error rate 7.4% on {endpoint}",
                            "Alert fired by Alertmanager.\n\nalertname: ErrorRateHigh\n"
                            "endpoint: {endpoint}\nsample error: {error}\nseverity: warning\n"
                            "since: {since}",
                            notes=(
                                "Acknowledged. Errors come from one pod stuck in a restart "
                                "loop on {host}.",
                                "Drained and replaced the bad pod; error rate back below 0.1 %.",
                            ),
                        ),
                    ),
                    solutions=("Alert cleared; metrics back to baseline for 30 minutes.",),
                ),
            ),
        ),
    ),
)


# --- Conversation pieces shared by all categories --------------------------------------------

SIGNATURE = {
    "de": "Viele Grüße\nIhr Support-Team",
    "en": "Kind regards\nYour support team",
}
DEFAULT_SALUTATION = {"de": "Guten Tag", "en": "Hello"}

ACKS = {
    "de": (
        "vielen Dank für Ihre Nachricht. Wir haben Ihr Anliegen aufgenommen und prüfen es "
        "gerade. Sie hören spätestens in wenigen Stunden von uns.",
        "danke für die ausführliche Beschreibung. Wir schauen uns das sofort an und melden uns "
        "mit einem Zwischenstand.",
        "wir haben Ihre Anfrage erhalten und bearbeiten sie bereits. Sobald wir Näheres wissen, "
        "informieren wir Sie.",
    ),
    "en": (
        "thanks for reaching out. We've logged your request and are looking into it now. "
        "You'll hear from us within the next few hours.",
        "thank you for the detailed description – that helps a lot. We're investigating and "
        "will get back to you with an update shortly.",
        "we've received your request and are already working on it. We'll keep you posted.",
    ),
}
UPDATES = {
    "de": (
        "kurzer Zwischenstand: Wir konnten das Verhalten nachvollziehen und arbeiten an einer "
        "Lösung. Das nächste Update erhalten Sie spätestens morgen Mittag.",
        "unsere Spezialisten haben den Fall übernommen und analysieren gerade die Logs. Wir "
        "melden uns, sobald wir die Ursache kennen.",
        "danke für Ihre Geduld. Die Analyse läuft noch; wir halten Sie auf dem Laufenden.",
    ),
    "en": (
        "quick update: we've reproduced the behaviour and are working on a fix. Next update by "
        "tomorrow noon at the latest.",
        "our specialists have taken over and are analysing the logs right now. We'll be in "
        "touch as soon as we know the root cause.",
        "thanks for your patience. The analysis is still ongoing; we'll keep you posted.",
    ),
}
FOLLOW_UPS = {
    "de": (
        "Gibt es schon einen neuen Stand? Wir warten dringend auf eine Rückmeldung.",
        "Hallo, ich habe noch keine Antwort erhalten. Wann ist mit einer Lösung zu rechnen?",
        "Das ist jetzt schon meine dritte Nachfrage. Langsam verlieren wir die Geduld!",
    ),
    "en": (
        "Any news on this? We really need an update.",
        "Hi, I haven't heard back yet. When can we expect a fix?",
        "This is the third time I'm asking. This is unacceptable!",
    ),
}
# Only for faults (Category.technical): the problem persists or spreads.
TECHNICAL_FOLLOW_UPS = {
    "de": (
        "Das Problem besteht weiterhin – bitte kümmern Sie sich endlich darum!",
        "Kleine Ergänzung: Der Fehler tritt inzwischen auch bei meinen Kolleginnen auf.",
    ),
    "en": (
        "The problem is still there – please sort this out!",
        "Quick addition: my colleagues are now seeing the same issue.",
    ),
}
REOPENS = {
    "de": (
        "Leider tritt das Problem seit heute Morgen wieder auf. Bitte schauen Sie sich das "
        "noch einmal an.",
        "Die Lösung hat nicht dauerhaft geholfen – der Fehler ist zurück.",
    ),
    "en": (
        "Unfortunately the problem is back since this morning. Please take another look.",
        "The fix didn't stick – we're seeing the error again.",
    ),
}
# After a non-technical case was resolved: a last question, which reopens it too.
QUESTIONS = {
    "de": (
        "Danke für die Rückmeldung – eine Frage habe ich aber noch: Bekomme ich das auch "
        "schriftlich?",
        "Vielen Dank. Muss ich jetzt noch etwas tun, oder ist damit alles erledigt?",
    ),
    "en": (
        "Thanks for getting back to me – one more question: will I get this in writing too?",
        "Thank you. Is there anything left for me to do, or is that everything?",
    ),
}
QUESTION_REPLIES = {
    "de": (
        "gern: Die schriftliche Bestätigung geht Ihnen heute noch per E-Mail zu. Weitere "
        "Schritte sind von Ihrer Seite nicht nötig.",
    ),
    "en": (
        "of course: you'll get the written confirmation by email today. Nothing else is needed "
        "from your side.",
    ),
}
REOPEN_REPLIES = {
    "de": (
        "danke für die Rückmeldung, das tut uns leid. Wir haben den Fall wieder geöffnet und "
        "gehen der Sache erneut nach.",
    ),
    "en": ("thanks for letting us know, and sorry about that. We've reopened the case.",),
}
HANDOVER_REASONS = {
    "de": ("Fachteam zuständig – Übergabe.", "Zuständigkeit geklärt, Übergabe an das Fachteam."),
    "en": ("Specialist team responsible – handing over.", "Routed to the responsible team."),
}
ESCALATION_REASONS = {
    "de": (
        "Lösung im eigenen Team nicht möglich, Analyse durch die nächste Ebene nötig.",
        "SLA gefährdet – Eskalation an die nächste Ebene.",
        "Mehrere Kunden betroffen, Koordination erforderlich.",
    ),
    "en": (
        "Cannot be solved at this level, needs analysis by the next level.",
        "SLA at risk – escalating to the next level.",
        "Several customers affected, coordination needed.",
    ),
}
# The information package of the source documents, written before every escalation.
ESCALATION_NOTES = {
    "de": (
        "Übergabe an die nächste Ebene\n\nWas ist passiert: {subject}\nSeit wann: {since}\n"
        "Betroffen: {customer}\nBisherige Maßnahmen: Fehler reproduziert, Logs gesichert, "
        "Workaround geprüft (nicht ausreichend)\nNächste Schritte: Ursachenanalyse, Update an "
        "den Kunden spätestens in 2 Stunden\nRisiken: SLA-Verletzung, Unzufriedenheit beim "
        "Kunden",
    ),
    "en": (
        "Hand-off to the next level\n\nWhat happened: {subject}\nSince: {since}\nAffected: "
        "{customer}\nActions taken: reproduced, logs saved, workaround tried (not "
        "sufficient)\nNext steps: root-cause analysis, customer update within 2 hours\nRisks: "
        "SLA breach, customer dissatisfaction",
    ),
}
PRIORITY_UP = {
    "de": "Weitere Kunden betroffen – Auswirkung höher als gemeldet.",
    "en": "More customers affected than reported – impact raised.",
}
PRIORITY_DOWN = {
    "de": "Workaround vorhanden, Dringlichkeit gesenkt.",
    "en": "Workaround in place, urgency lowered.",
}

# Values for the placeholders.
PRODUCTS = ("Kundenportal", "Shop-Backend", "Dispositionssystem", "Cloud-Portal")
PRODUCTS_EN = ("customer portal", "shop backend", "dispatch system", "cloud portal")
ERRORS = (
    "HTTP 502 Bad Gateway",
    "HTTP 500 Internal Server Error",
    "HTTP 504 Gateway Timeout",
    "ERR_CONNECTION_RESET",
    "Service Unavailable",
    "UnicodeDecodeError",
)
ENDPOINTS = ("POST /v2/orders", "GET /v2/invoices", "PUT /v2/customers/{id}", "POST /v2/shipments")
HOSTS = ("api-gw-eu-1", "app-eu-3", "db-primary-eu", "worker-eu-2", "edge-fra-1")
DEVICES_DE = ("Barcode-Scanner", "Etikettendrucker", "Tablet-Terminal", "Kassendrucker")
DEVICES_EN = ("barcode scanner", "label printer", "tablet terminal", "receipt printer")
