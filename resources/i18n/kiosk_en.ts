<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en" sourcelanguage="en">
<context>
    <name>ErrorWords</name>
    <message numerus="yes">
        <location filename="../../kiosk/ui/errors.py" line="+581"/>
        <source>%n tries left before the card locks the PIN.</source>
        <translation>
            <numerusform>%n try left before the card locks the PIN.</numerusform>
            <numerusform>%n tries left before the card locks the PIN.</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>IdleWarning</name>
    <message numerus="yes">
        <location filename="../../kiosk/ui/idle.py" line="+183"/>
        <source>The screen will be cleared in %n seconds for your privacy.</source>
        <extracomment>How long before the wipe the warning shows, for allowances of twice this or more. The button&apos;s height: as large as the screens&apos; bottom-row buttons. The panel&apos;s width, unless the window is narrower. The panel wakes at least this often (a clock that jumped is noticed within it). The backdrop that dims the screen beneath (black at about 60 %). The warning appeared (the seconds it shows). The countdown shows a new number of seconds (also emitted when it appears). The warning was hidden (more time, other input, or the session ended). The person asked for more time.</extracomment>
        <translation>
            <numerusform>The screen will be cleared in %n second for your privacy.</numerusform>
            <numerusform>The screen will be cleared in %n seconds for your privacy.</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>PinPad</name>
    <message numerus="yes">
        <location filename="../../kiosk/ui/keypads.py" line="+102"/>
        <source>%n of %1 digits entered</source>
        <translation>
            <numerusform>%n of %1 digits entered</numerusform>
            <numerusform>%n of %1 digits entered</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>PinScreen</name>
    <message numerus="yes">
        <location filename="../../kiosk/ui/screens/entry.py" line="+437"/>
        <source>%n tries left</source>
        <translation>
            <numerusform>%n try left</numerusform>
            <numerusform>%n tries left</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>WaitClock</name>
    <message numerus="yes">
        <location filename="../../kiosk/ui/waitclock.py" line="+103"/>
        <source>%n minutes</source>
        <translation>
            <numerusform>%n minute</numerusform>
            <numerusform>%n minutes</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <location line="+2"/>
        <source>%n seconds</source>
        <translation>
            <numerusform>%n second</numerusform>
            <numerusform>%n seconds</numerusform>
        </translation>
    </message>
</context>
</TS>
